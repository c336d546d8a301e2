"""Which of llama.cpp's CPU backends runs: the build ships one library per instruction set, from
the AVX2 floor up to AVX-512, and kbdesk loads the best one this CPU runs, from the installation
only (never from the working folder, never the AMX one).

llama.cpp built with GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS compiles its CPU code once per
instruction set (libggml-cpu-<variant>.so); each library's `ggml_backend_score` says whether this
CPU can run it and how much of it it uses (0: cannot). Left to itself, llama.cpp loads the best
scoring library from the program's folder or the *current* folder, and would pick the AMX one on
a Sapphire Rapids CPU (AMX faulted on one of this project's machines). So only the variants of
cpu_floor.SHIPPED are built (no AMX), and kbdesk scores the libraries next to llama.cpp itself
and registers the winner before llama.cpp looks anywhere (bench/RESULTS.md, "Portable llama.cpp
build ÷ native build").
"""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.generate.cpu_floor import FLOOR_NAME, SHIPPED

_WINDOWS = sys.platform == "win32"
VARIANT_PREFIX = "ggml-cpu-" if _WINDOWS else "libggml-cpu-"
LIBRARY_SUFFIX = ".dll" if _WINDOWS else ".so"


@dataclass(frozen=True)
class CpuBackend:
    """The CPU library llama.cpp runs on, and where it came from."""

    variant: str  # "haswell", "icelake", ...; "" for a build with a single CPU library
    path: Path | None  # None for a single-library build (linked in, nothing to choose)


def variant_of(path: Path) -> str:
    return path.name[len(VARIANT_PREFIX) : -len(LIBRARY_SUFFIX)]


def variant_libraries(lib_dir: Path) -> dict[str, Path]:
    """The shipped variant libraries present in `lib_dir`, by variant name."""
    found = {variant_of(p): p for p in lib_dir.glob(f"{VARIANT_PREFIX}*{LIBRARY_SUFFIX}")}
    return {name: path for name, path in found.items() if name in SHIPPED}


def score(path: Path) -> int:
    """The library's own score of this CPU (0: it cannot run here); the library is unloaded."""
    handle = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
    try:
        fn = getattr(handle, "ggml_backend_score", None)
        if fn is None:
            return 0
        fn.restype = ctypes.c_int
        return int(fn())
    finally:
        _dlclose(handle)


def best_variant(lib_dir: Path) -> tuple[str, Path] | None:
    """The shipped library that scores highest on this CPU, or None when none can run."""
    scored = [(score(path), name, path) for name, path in variant_libraries(lib_dir).items()]
    runnable = [s for s in scored if s[0] > 0]
    if not runnable:
        return None
    _, name, path = max(runnable)
    return name, path


def load_cpu_backend(llama_cpp) -> CpuBackend:
    """Register the best CPU library of the installed llama.cpp before it searches on its own
    (once per process; later calls return the same).

    :raises UnsupportedCpu: no shipped library runs on this CPU (the floor check,
        cpu_floor.check_cpu, refuses such a CPU first).
    """
    return _load(llama_cpp.__file__)


@functools.cache  # by the module's file name: every later call is a dictionary lookup
def _load(module_file: str) -> CpuBackend:
    lib_dir = Path(module_file).resolve().parent / "lib"
    if not variant_libraries(lib_dir):
        return CpuBackend("", None)  # a build with one CPU library, linked into libggml
    chosen = best_variant(lib_dir)
    if chosen is None:
        from kbdesk.core.errors import Remedy, UnsupportedCpu

        raise UnsupportedCpu(
            f"None of kbdesk's processor libraries ({', '.join(sorted(variant_libraries(lib_dir)))}) "
            f"runs on this computer's processor: it needs {FLOOR_NAME}.",
            remedy=Remedy.NEWER_COMPUTER,
        )
    name, path = chosen
    libggml = ctypes.CDLL(str(loaded_copy(lib_dir, "ggml")))
    libggml.ggml_backend_load.restype = ctypes.c_void_p
    libggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not libggml.ggml_backend_load(str(path).encode()):
        raise RuntimeError(f"llama.cpp could not load its CPU library {path.name}.")
    return CpuBackend(name, path)


def loaded_copy(lib_dir: Path, name: str) -> Path:
    """The file of llama.cpp's library `name` ("ggml", "ggml-base") that libllama itself loads.

    A wheel holds copies, not links, of libX.so, libX.so.0 and libX.so.0.N, and libllama loads
    the soname (libX.so.0): opening another copy starts a second instance of the library, whose
    backends and log settings the model never sees.
    """
    if _WINDOWS:
        return lib_dir / f"{name}.dll"
    versioned = sorted(lib_dir.glob(f"lib{name}.so.*"), key=lambda p: len(p.name))
    for path in (*versioned, lib_dir / f"lib{name}.so", lib_dir / f"lib{name}.dylib"):
        if path.is_file():
            return path
    return lib_dir / f"lib{name}.so"


def loaded_variant() -> str | None:
    """The name of the variant library mapped into this process, if any (Linux: /proc)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        name = line.rsplit("/", 1)[-1]
        if name.startswith(VARIANT_PREFIX) and name.endswith(LIBRARY_SUFFIX):
            return variant_of(Path(name))
    return None


def _dlclose(handle: ctypes.CDLL) -> None:
    import _ctypes

    close = getattr(_ctypes, "dlclose", None)  # POSIX only
    if close is not None:
        close(handle._handle)
