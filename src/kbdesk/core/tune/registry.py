"""The adapters folder: installing a trained adapter with its meta.json, listing, renaming, removing."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.errors import InvalidSetting, ModelMissing, Remedy
from kbdesk.core.generate.adapters import (
    ADAPTER_FILE,
    META_FILE,
    list_adapters,
    read_meta,
)
from kbdesk.core.paths import validate_collection_name
from kbdesk.core.store.fileio import atomic_write_text, fsync_dir


@dataclass(frozen=True)
class AdapterEntry:
    name: str
    path: Path
    meta: dict

    @property
    def base_name(self) -> str:
        base = self.meta.get("base") or {}
        return base.get("name") or base.get("file") or "unknown model"

    def to_json(self) -> dict:
        meta = self.meta
        return {
            "name": self.name,
            "path": str(self.path),
            "base": meta.get("base"),
            "collection": meta.get("collection"),
            "created": meta.get("created"),
            "counts": meta.get("counts"),
            "final_loss": (meta.get("training") or {}).get("final_loss"),
            "evaluated": bool(meta.get("evaluation")),
        }


def validate_adapter_name(name: str) -> str:
    """Adapter names follow the collection-name rules (they are folder names too)."""
    try:
        return validate_collection_name(name)
    except InvalidSetting as exc:
        raise InvalidSetting(f"'{name}' is not a valid adapter name.", hint=exc.hint) from None


def entries(adapters_dir: str | os.PathLike) -> list[AdapterEntry]:
    return [AdapterEntry(a.name, a.path, read_meta(a.path)) for a in list_adapters(adapters_dir)]


def _folder(adapters_dir: str | os.PathLike, name: str) -> Path:
    folder = Path(adapters_dir) / validate_adapter_name(name)
    if not (folder / ADAPTER_FILE).is_file():
        known = ", ".join(e.name for e in entries(adapters_dir)) or "none"
        raise ModelMissing(
            f"No adapter named '{name}'.",
            hint=f"Known adapters: {known}.",
            remedy=Remedy.CHOOSE_ADAPTER,
        )
    return folder


def install(job_dir: Path) -> Path:
    """Moves a finished job's adapter into `<adapters>/<name>/` with its meta.json.

    Written into a hidden folder first and renamed: a kill leaves either no adapter or a
    whole one. An adapter of the same name is replaced only when the job was told to.
    """
    from kbdesk.core.tune.trainer import ADAPTER_OUT, JOB_FILE

    job = json.loads((job_dir / JOB_FILE).read_text(encoding="utf-8"))
    adapters_dir = Path(job["adapters_dir"])
    name = validate_adapter_name(job["name"])
    final = adapters_dir / name
    tmp = adapters_dir / f".{name}.installing"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(job_dir / ADAPTER_OUT, tmp / ADAPTER_FILE)
    atomic_write_text(
        tmp / META_FILE, json.dumps(meta_of(job_dir, job), ensure_ascii=False, indent=1)
    )
    if final.exists():
        if not job.get("replace"):
            shutil.rmtree(tmp, ignore_errors=True)
            raise InvalidSetting(f"An adapter named '{name}' already exists.")
        trash = adapters_dir / f".{name}.replaced"
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(final, trash)
        os.replace(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, final)
    fsync_dir(adapters_dir)
    return final / ADAPTER_FILE


def meta_of(job_dir: Path, job: dict) -> dict:
    from kbdesk.core.tune.pipeline import SPLIT_FILE

    split = json.loads((job_dir / SPLIT_FILE).read_text(encoding="utf-8"))
    losses = json.loads((job_dir / "losses.json").read_text(encoding="utf-8"))["losses"]
    train_lines = (job_dir / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return {
        "name": job["name"],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "base": job["base"],
        "collection": job["collection"],
        "counts": {
            "examples_written": split["filter"]["written"],
            "examples_kept": split["filter"]["kept"],
            "quote_repaired": split["filter"].get("quote_repaired", 0),
            "dropped": split["filter"]["dropped"],
            "train_questions": len(split["train"]),
            "held_out_questions": len(split["held_out"]),
            "unanswerable_questions": len(split.get("unanswerable", [])),
            "user_questions": len(split.get("user_questions", [])),
            "training_conversations": sum(1 for line in train_lines if line.strip()),
        },
        "settings": job["settings"],
        "training": {
            "steps": len(losses),
            "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None,
            "losses": losses,
        },
        "split": split,
        "evaluation": None,
    }


def rename_adapter(adapters_dir: str | os.PathLike, old: str, new: str) -> Path:
    source = _folder(adapters_dir, old)
    target = Path(adapters_dir) / validate_adapter_name(new)
    if target.exists():
        raise InvalidSetting(f"An adapter named '{new}' already exists.")
    os.replace(source, target)
    meta = read_meta(target / ADAPTER_FILE)
    if meta:
        meta["name"] = target.name
        atomic_write_text(target / META_FILE, json.dumps(meta, ensure_ascii=False, indent=1))
    return target


def remove_adapter(adapters_dir: str | os.PathLike, name: str) -> None:
    """Hidden first (one rename), then deleted: a kill never leaves half an adapter listed."""
    folder = _folder(adapters_dir, name)
    trash = folder.with_name(f".{folder.name}.removing")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def save_evaluation(adapter_path: Path, evaluation: dict) -> None:
    meta = read_meta(adapter_path)
    meta["evaluation"] = evaluation
    atomic_write_text(
        adapter_path.with_name(META_FILE), json.dumps(meta, ensure_ascii=False, indent=1)
    )
