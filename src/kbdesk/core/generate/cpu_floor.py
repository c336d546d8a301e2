"""The instruction-set floor llama.cpp is compiled for, and the start-up check of the CPU against it.

A native build (`GGML_NATIVE=ON`) compiles in whatever the build machine advertises; on one of
this project's own machines that meant AMX tile instructions that fault at run time ("Illegal
instruction"), and a native build cannot be copied to another PC either. So llama.cpp is built
with its CPU code once per instruction set (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS), kbdesk
loads the best library this CPU runs (cpu_variants.py: never AMX), and the floor all of them
share (the Haswell / x86-64-v3 set: AVX2, FMA, F16C, BMI2) is checked before llama.cpp loads.

Run as a script (no kbdesk imports), it prints what the set-up script and the packaging need:
`python cpu_floor.py cmake-args` or `python cpu_floor.py tag`; `python cpu_floor.py trim
CMAKELISTS` edits llama.cpp's ggml/src/CMakeLists.txt in an unpacked source tree so that only the
shipped CPU variants are built (build/llama_wheel.sh): AMX is never compiled, and the build
takes about half as long.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import platform
import re
import sys
from pathlib import Path

# (the feature as numpy's CPU dispatcher names it, its usual name)
FLOOR = (
    ("SSE42", "SSE4.2"),
    ("AVX", "AVX"),
    ("F16C", "F16C"),
    ("FMA3", "FMA"),
    ("AVX2", "AVX2"),
    ("BMI2", "BMI2"),
)
# One CPU library per instruction set, loaded at run time (cpu_variants.py), installed next to
# llama.cpp's own libraries instead of a bin/ folder outside the package. GGML_NATIVE stays off:
# nothing is taken from the build machine. Each variant sets its own instruction sets.
VARIANT_OPTIONS = (
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib",
)
# The libraries kbdesk builds, ships and may load: the floor (haswell: AVX2, FMA, F16C, BMI2),
# AVX-VNNI (alderlake: Intel desktops from 2021) and AVX-512 (skylakex; cascadelake adds VNNI;
# icelake adds VBMI: Ice/Tiger/Rocket Lake; zen4 adds BF16: AMD Zen 4/5, and Sapphire Rapids
# without its AMX). Not built: those below the floor (x64 ... piledriver: cpu_floor refuses such
# CPUs), cannonlake and cooperlake (rare; skylakex/cascadelake run there), sapphirerapids (AMX).
SHIPPED = ("haswell", "alderlake", "skylakex", "cascadelake", "icelake", "zen4")
# AVX-512 code (zmm registers) is allowed in these libraries only; AMX code in none.
AVX512_VARIANTS = frozenset(SHIPPED[2:])
# The multimodal helper library (mtmd) is never used by kbdesk: not built, not shipped.
OTHER_OPTIONS = ("-DLLAVA_BUILD=OFF",)

FLOOR_NAME = "a processor from 2013-2015 or newer (Intel Haswell, AMD Excavator)"
X86_MACHINES = {"x86_64", "amd64", "x64"}


def cmake_args() -> str:
    """The CMAKE_ARGS that build llama-cpp-python's CPU variants, nothing for this machine only
    (elsewhere than x86-64: the architecture's own baseline, one library)."""
    variants = VARIANT_OPTIONS if applies() else ()
    return " ".join(["-DGGML_NATIVE=OFF", *variants, *OTHER_OPTIONS])


def build_tag() -> str:
    """A short name for the build flags and variants, kept in the cached wheel's folder name."""
    digest = hashlib.sha256(" ".join([cmake_args(), *SHIPPED]).encode()).hexdigest()[:8]
    return f"x86-64-v3-{digest}"


def applies(machine: str | None = None) -> bool:
    """The floor is an x86-64 one; other architectures are built for their own baseline."""
    return (machine or platform.machine()).lower() in X86_MACHINES


@functools.cache
def cpu_features() -> dict[str, bool]:
    """What this CPU (and its operating system) supports, as numpy's runtime detection saw it."""
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:  # numpy < 2
        umath = importlib.import_module("numpy.core._multiarray_umath")
    return dict(umath.__cpu_features__)


def missing_features(features: dict[str, bool] | None = None) -> list[str]:
    """The usual names of the floor's features this CPU lacks; a feature the detector does not
    report is not held against the CPU (an older numpy knows fewer names)."""
    if not applies():
        return []
    features = cpu_features() if features is None else features
    return [name for key, name in FLOOR if features.get(key) is False]


def check_cpu(features: dict[str, bool] | None = None) -> None:
    """Raise UnsupportedCpu with a plain sentence when this CPU is below the floor.

    :raises UnsupportedCpu: before llama.cpp is loaded, instead of an "Illegal instruction" crash.
    """
    missing = missing_features(features)
    if missing:
        from kbdesk.core.errors import Remedy, UnsupportedCpu

        raise UnsupportedCpu(
            f"This computer's processor lacks {_listed(missing)}, which kbdesk's answer "
            f"model needs: {FLOOR_NAME}.",
            remedy=Remedy.NEWER_COMPUTER,
        )


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


_VARIANT_LINE = re.compile(r"^(\s*)ggml_add_cpu_backend_variant\((\w+)\b.*$", re.M)
_X86_BLOCK = re.compile(
    r"if \(GGML_CPU_ALL_VARIANTS\).*?GGML_SYSTEM_ARCH STREQUAL \"x86\"\)(.*?)elseif", re.S
)


def trim(cmakelists: Path) -> list[str]:
    """Comment out the x86 CPU variants kbdesk does not ship in llama.cpp's ggml/src/CMakeLists.txt;
    the names left out.

    :raises SystemExit: the file's x86 variants are not the ones this module knows (a new
        llama.cpp release: decide about its variants here before building it).
    """
    if not applies():
        return []  # no variants are built here (cmake_args)
    text = cmakelists.read_text()
    block = _X86_BLOCK.search(text)
    if block is None:
        raise SystemExit(f"{cmakelists}: no x86 CPU variant list found")
    named = [m.group(2) for m in _VARIANT_LINE.finditer(block.group(1))]
    if not set(SHIPPED) <= set(named):
        raise SystemExit(f"{cmakelists}: variants {sorted(set(SHIPPED) - set(named))} are missing")
    dropped = [name for name in named if name not in SHIPPED]

    def comment(m: re.Match) -> str:
        return (
            m.group(0)
            if m.group(2) in SHIPPED
            else f"{m.group(1)}# not shipped by kbdesk: {m.group(0).strip()}"
        )

    body = _VARIANT_LINE.sub(comment, block.group(1))
    cmakelists.write_text(text[: block.start(1)] + body + text[block.end(1) :])
    return dropped


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "cmake-args"
    if command == "trim" and len(sys.argv) == 3:
        print("CPU variants not built:", " ".join(trim(Path(sys.argv[2]))))
    else:
        print({"cmake-args": cmake_args, "tag": build_tag}[command]())
