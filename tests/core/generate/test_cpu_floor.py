"""The instruction-set floor: build flags, the start-up check, and the installed llama.cpp itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kbdesk.core.errors import Remedy, UnsupportedCpu
from kbdesk.core.generate import cpu_floor, cpu_variants
from kbdesk.core.messages import Audience, explain

HASWELL = {key: True for key, _ in cpu_floor.FLOOR}


def test_build_flags_turn_native_off_and_build_every_cpu_variant_for_runtime_choice():
    args = cpu_floor.cmake_args().split()
    assert "-DGGML_NATIVE=OFF" in args
    assert {"-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"} <= set(args)
    # installed beside libllama.so, where kbdesk looks (cpu_variants.py), not in a bin/ folder
    assert "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib" in args
    # nothing above the floor is switched on for the build as a whole: each variant sets its own
    assert not any("=ON" in a for a in args if "AVX" in a or "AMX" in a)


def test_build_tag_changes_with_the_flags(monkeypatch):
    tag = cpu_floor.build_tag()
    assert tag.startswith("x86-64-v3-")
    monkeypatch.setattr(cpu_floor, "VARIANT_OPTIONS", cpu_floor.VARIANT_OPTIONS[:-1])
    assert cpu_floor.build_tag() != tag


def test_script_prints_the_flags_without_kbdesk_installed(tmp_path):
    # The set-up script runs the module by path before kbdesk is importable.
    script = Path(cpu_floor.__file__)
    out = subprocess.run(
        [sys.executable, "-S", str(script), "cmake-args"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == cpu_floor.cmake_args()


def test_a_cpu_below_the_floor_gets_a_sentence_naming_what_it_lacks(monkeypatch):
    monkeypatch.setattr(cpu_floor.platform, "machine", lambda: "x86_64")
    old_cpu = {**HASWELL, "AVX2": False, "FMA3": False}
    assert cpu_floor.missing_features(old_cpu) == ["FMA", "AVX2"]
    with pytest.raises(UnsupportedCpu) as err:
        cpu_floor.check_cpu(old_cpu)
    text = str(err.value)
    assert "processor lacks FMA and AVX2" in text and "Haswell" in text
    assert err.value.remedy is Remedy.NEWER_COMPUTER
    window, cli = explain(err.value, Audience.WINDOW), explain(err.value, Audience.CLI)
    assert "searching documents still work" in window and "kbdesk search still work" in cli
    assert "make" not in window + cli and "Traceback" not in window + cli
    cpu_floor.check_cpu(HASWELL)  # the floor itself passes


def test_features_a_detector_does_not_know_are_not_held_against_the_cpu(monkeypatch):
    monkeypatch.setattr(cpu_floor.platform, "machine", lambda: "x86_64")
    assert cpu_floor.missing_features({"AVX2": True}) == []


def test_the_floor_is_for_x86_only(monkeypatch):
    monkeypatch.setattr(cpu_floor.platform, "machine", lambda: "arm64")
    assert cpu_floor.missing_features({key: False for key, _ in cpu_floor.FLOOR}) == []


def test_this_machine_passes_and_numpy_reports_the_floor():
    features = cpu_floor.cpu_features()
    assert {"AVX2", "FMA3", "F16C"} <= features.keys()
    assert cpu_floor.missing_features() == []


def test_host_refuses_before_llama_cpp_is_loaded_on_a_cpu_below_the_floor(small_model):
    # A fresh interpreter, so that llama.cpp's library is provably never loaded.
    code = f"""
import sys
from kbdesk.core.generate import cpu_floor, cpu_variants
from kbdesk.core.generate.host import LlamaHost
from kbdesk.core.errors import UnsupportedCpu
cpu_floor.cpu_features = lambda: {{"AVX": True, "AVX2": False, "FMA3": False, "F16C": True}}
cpu_floor.platform.machine = lambda: "x86_64"
try:
    LlamaHost({str(small_model)!r}).llama
except UnsupportedCpu as exc:
    print("REFUSED:", exc)
print("LOADED" if "llama_cpp" in sys.modules else "NOT LOADED")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "REFUSED: This computer's processor lacks FMA and AVX2" in out.stdout
    assert "NOT LOADED" in out.stdout


# -- the llama.cpp that is installed -------------------------------------------------------------

# What each shipped CPU library needs, in the kernel's /proc/cpuinfo names (an account of this
# CPU independent of the libraries' own scores), and llama.cpp's score bit for each feature.
_SKYLAKEX = (
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx512f",
    "avx512cd",
    "avx512vl",
    "avx512dq",
    "avx512bw",
)
VARIANT_NEEDS = {
    "haswell": ("avx2", "fma", "f16c", "bmi2"),
    "alderlake": ("avx2", "fma", "f16c", "bmi2", "avx_vnni"),
    "skylakex": _SKYLAKEX,
    "cascadelake": (*_SKYLAKEX, "avx512_vnni"),
    "icelake": (*_SKYLAKEX, "avx512vbmi", "avx512_vnni"),
    "zen4": (*_SKYLAKEX, "avx512vbmi", "avx512_vnni", "avx512_bf16"),
}
SCORE_BITS = {"avx_vnni": 6, "avx512f": 7, "avx512vbmi": 8, "avx512_bf16": 9, "avx512_vnni": 10}


def _cpuinfo_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def expected_variant(flags: set[str]) -> str:
    runnable = [v for v, needs in VARIANT_NEEDS.items() if set(needs) <= flags]
    return max(runnable, key=lambda v: sum(1 << SCORE_BITS.get(f, 0) for f in VARIANT_NEEDS[v]))


def test_the_expected_variant_follows_the_cpus_flags():
    haswell = set(VARIANT_NEEDS["haswell"])
    assert expected_variant(haswell) == "haswell"
    assert expected_variant(haswell | {"avx_vnni"}) == "alderlake"
    assert expected_variant(set(_SKYLAKEX) | {"avx512_vnni"}) == "cascadelake"
    assert expected_variant(set(_SKYLAKEX) | {"avx512_vnni", "avx512_bf16"}) == "cascadelake"
    assert set(VARIANT_NEEDS) == set(cpu_floor.SHIPPED)
    assert expected_variant(set(VARIANT_NEEDS["zen4"]) | {"amx_tile", "amx_int8"}) == "zen4"


def _llama_libraries() -> list[Path]:
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib"
    found = sorted(lib.glob("*.so"))  # the unversioned names; the .so.N files are copies of them
    assert any(p.name.startswith("libggml-cpu") for p in found), f"no CPU backend in {lib}"
    return found


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="needs Linux's /proc/cpuinfo")
def test_the_variant_this_cpu_runs_loads_from_the_installation_not_the_working_folder(tmp_path):
    import llama_cpp

    lib = Path(llama_cpp.__file__).resolve().parent / "lib"
    shipped = {cpu_variants.variant_of(p) for p in lib.glob("libggml-cpu-*.so")}
    assert shipped == set(cpu_floor.SHIPPED), "the set-up script builds exactly these"
    # A CPU library in the working folder is what llama.cpp's own search would also try.
    shutil.copy(lib / "libggml-cpu-haswell.so", tmp_path / "libggml-cpu-zen4.so")
    code = """
import llama_cpp
from pathlib import Path
from kbdesk.core.generate.host import load_llama_cpp
from kbdesk.core.generate.cpu_variants import load_cpu_backend
backend = load_cpu_backend(load_llama_cpp())
mapped = [l.split()[-1] for l in Path("/proc/self/maps").read_text().splitlines()
          if "libggml-cpu-" in l]
print("BACKEND", backend.variant, backend.path)
print("MAPPED", " ".join(sorted(set(mapped))))
print("INFO", llama_cpp.llama_print_system_info().decode())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    want = expected_variant(_cpuinfo_flags())
    assert lines["BACKEND"] == f"{want} {lib / f'libggml-cpu-{want}.so'}"
    assert lines["MAPPED"] == str(lib / f"libggml-cpu-{want}.so"), "one library, the installed one"
    compiled = {m.group(1) for m in re.finditer(r"(\w+) = 1", lines["INFO"])}
    assert {"AVX", "AVX2", "FMA", "F16C"} <= compiled, compiled
    kernel = {"AVX512": "avx512f", "AVX512_VNNI": "avx512_vnni", "AVX_VNNI": "avx_vnni"}
    for feature, flag in kernel.items():
        assert feature not in compiled or flag in _cpuinfo_flags(), f"{feature} on a CPU without it"
    assert not {f for f in compiled if f.startswith("AMX")}


# The shape of llama.cpp's ggml/src/CMakeLists.txt around its CPU variants (0.3.36's vendor tree).
VARIANT_CMAKE = """function(ggml_add_cpu_backend_variant tag_name)
    if (GGML_SYSTEM_ARCH STREQUAL "x86")
        foreach (feat NATIVE SSE42 AVX)
            set(GGML_${feat} OFF)
        endforeach()
    elseif (GGML_SYSTEM_ARCH STREQUAL "ARM")
    endif()
endfunction()

if (GGML_CPU_ALL_VARIANTS)
    if (GGML_SYSTEM_ARCH STREQUAL "x86")
        ggml_add_cpu_backend_variant(x64)
        ggml_add_cpu_backend_variant(sse42              SSE42)
        ggml_add_cpu_backend_variant(haswell            SSE42 AVX F16C FMA AVX2 BMI2)
        ggml_add_cpu_backend_variant(skylakex           SSE42 AVX F16C FMA AVX2 BMI2 AVX512)
        ggml_add_cpu_backend_variant(cascadelake        SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VNNI)
        ggml_add_cpu_backend_variant(icelake            SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VBMI AVX512_VNNI)
        if (NOT MSVC)
            ggml_add_cpu_backend_variant(zen4           SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16)
        endif()
        ggml_add_cpu_backend_variant(alderlake          SSE42 AVX F16C FMA AVX2 BMI2 AVX_VNNI)
        if (NOT MSVC)
            ggml_add_cpu_backend_variant(sapphirerapids SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AMX_TILE AMX_INT8)
        endif()
    elseif(GGML_SYSTEM_ARCH STREQUAL "ARM")
        ggml_add_cpu_backend_variant(armv8.0_1)
    endif()
endif()
"""


def _built(text: str) -> list[str]:
    return re.findall(r"^\s*ggml_add_cpu_backend_variant\((\w+)", text, re.M)


def test_trim_builds_only_the_shipped_variants_and_never_amx(tmp_path):
    cmake = tmp_path / "CMakeLists.txt"
    cmake.write_text(VARIANT_CMAKE)
    # run as the build script runs it: by path, before kbdesk is installed
    out = subprocess.run(
        [sys.executable, "-S", cpu_floor.__file__, "trim", str(cmake)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "CPU",
        "variants",
        "not",
        "built:",
        "x64",
        "sse42",
        "sapphirerapids",
    ]
    text = cmake.read_text()
    assert sorted(_built(text)) == sorted([*cpu_floor.SHIPPED, "armv8"])  # ARM left alone
    assert "# not shipped by kbdesk: ggml_add_cpu_backend_variant(sapphirerapids" in text
    assert cpu_floor.trim(cmake) == [] and cmake.read_text() == text, "a second run changes nothing"


def test_trim_refuses_a_variant_list_that_lacks_a_shipped_variant(tmp_path):
    cmake = tmp_path / "CMakeLists.txt"
    cmake.write_text(VARIANT_CMAKE.replace("ggml_add_cpu_backend_variant(icelake", "foo(icelake"))
    with pytest.raises(SystemExit, match="icelake"):
        cpu_floor.trim(cmake)
    assert cmake.read_text() == VARIANT_CMAKE.replace(
        "ggml_add_cpu_backend_variant(icelake", "foo(icelake"
    ), "nothing written"


def offending_instructions(library: Path, limit: int = 5, avx512: bool = False) -> list[str]:
    """Disassembled lines of `library` that only a CPU above its variant can run: AMX always,
    AVX-512 unless `avx512`."""
    # zmm registers, k masks and registers 16-31 are AVX-512 only; tile*/tmm are AMX.
    amx = r"\t(?:ldtilecfg|sttilecfg|tile\w+|tdp\w+)\b|%tmm\d"
    wide = r"%zmm\d|%k[1-7]\b|%[xy]mm(1[6-9]|2\d|3[01])\b"
    forbidden = re.compile(amx if avx512 else f"{amx}|{wide}")
    proc = subprocess.Popen(
        ["objdump", "-d", "--no-show-raw-insn", str(library)], stdout=subprocess.PIPE, text=True
    )
    found = []
    for line in proc.stdout:
        if forbidden.search(line):
            found.append(line.strip())
            if len(found) >= limit:
                break
    proc.kill()
    proc.wait()
    return found


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_llama_libraries_hold_no_instruction_above_their_variant_and_never_amx():
    # The system-info flags say what the build asked for; the machine code is what a CPU runs.
    checked = set()
    for library in _llama_libraries():
        variant = cpu_variants.variant_of(library) if "ggml-cpu-" in library.name else ""
        avx512 = variant in cpu_floor.AVX512_VARIANTS
        found = offending_instructions(library, avx512=avx512)
        assert not found, f"{library.name} holds instructions above its variant: {found}"
        checked.add(variant)
    assert set(cpu_floor.SHIPPED) <= checked
    # the check itself finds AVX-512 where it must be
    assert offending_instructions(library.parent / "libggml-cpu-skylakex.so", limit=1)


def test_elsewhere_than_x86_one_baseline_library_is_built_and_nothing_is_trimmed(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(cpu_floor.platform, "machine", lambda: "aarch64")
    assert cpu_floor.cmake_args().split() == ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF"]
    cmake = tmp_path / "CMakeLists.txt"
    cmake.write_text(VARIANT_CMAKE)
    assert cpu_floor.trim(cmake) == [] and cmake.read_text() == VARIANT_CMAKE
