"""What this kbdesk is and where it runs from: version, program, llama.cpp build, data and model
folders, import path, the CPU library llama.cpp runs on (`kbdesk about`; the installer's smoke
test checks the import path)."""

from __future__ import annotations

import os
import platform
import sys

from kbdesk import __version__
from kbdesk.core.generate.cpu_floor import build_tag, missing_features
from kbdesk.core.paths import AppPaths, describe_model_dirs


def _cpu_library() -> dict:
    """The llama.cpp CPU library this processor runs: its variant ("icelake", ...; "" when none
    can run here) and file (None for a build with one CPU library)."""
    if missing_features():
        return {"variant": "", "path": None}
    from kbdesk.core.generate.cpu_variants import load_cpu_backend
    from kbdesk.core.generate.host import load_llama_cpp

    backend = load_cpu_backend(load_llama_cpp())
    path = str(backend.path) if backend.path else None
    return {"variant": backend.variant or "one for every processor", "path": path}


def about(data_dir: str | os.PathLike | None = None) -> dict:
    paths = AppPaths.resolve(data_dir)
    return {
        "version": __version__,
        "program": sys.executable,
        "installed": bool(getattr(sys, "frozen", False)),
        "python": platform.python_version(),
        "llama_cpp_build": build_tag(),
        "llama_cpp_cpu_library": _cpu_library(),
        "processor_lacks": missing_features(),
        "data_dir": str(paths.data_dir),
        "config_dir": str(paths.config_dir),
        "log_dir": str(paths.log_dir),
        "model_dirs": [str(folder) for folder in describe_model_dirs(paths)],
        "sys_path": list(sys.path),
    }
