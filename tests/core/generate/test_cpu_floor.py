"""The instruction-set floor: build flags, the start-up check, and the installed llama.cpp itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kbdesk.core.errors import Remedy, UnsupportedCpu
from kbdesk.core.generate import cpu_floor
from kbdesk.core.messages import Audience, explain

HASWELL = {key: True for key, _, _ in cpu_floor.FLOOR}


def test_build_flags_turn_native_off_the_floor_on_and_everything_above_it_off():
    args = cpu_floor.cmake_args().split()
    assert "-DGGML_NATIVE=OFF" in args
    for _, option, _ in cpu_floor.FLOOR:
        assert f"-D{option}=ON" in args
    for option in ("GGML_AVX512", "GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AVX512_BF16"):
        assert f"-D{option}=OFF" in args
    assert not any("=ON" in a for a in args if "AVX512" in a or "AMX" in a)


def test_build_tag_changes_with_the_flags(monkeypatch):
    tag = cpu_floor.build_tag()
    assert tag.startswith("x86-64-v3-")
    monkeypatch.setattr(cpu_floor, "ABOVE_FLOOR", cpu_floor.ABOVE_FLOOR[:-1])
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
    assert cpu_floor.missing_features({key: False for key, _, _ in cpu_floor.FLOOR}) == []


def test_this_machine_passes_and_numpy_reports_the_floor():
    features = cpu_floor.cpu_features()
    assert {"AVX2", "FMA3", "F16C"} <= features.keys()
    assert cpu_floor.missing_features() == []


def test_host_refuses_before_llama_cpp_is_loaded_on_a_cpu_below_the_floor(small_model):
    # A fresh interpreter, so that llama.cpp's library is provably never loaded.
    code = f"""
import sys
from kbdesk.core.generate import cpu_floor
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


def _compiled_features() -> set[str]:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    return {m.group(1) for m in re.finditer(r"(\w+) = 1", info)}


def test_installed_llama_cpp_is_built_for_the_floor_and_nothing_above_it():
    compiled = _compiled_features()
    assert {"AVX", "AVX2", "FMA", "F16C"} <= compiled, compiled
    above = {f for f in compiled if f.startswith(("AVX512", "AMX", "AVX_VNNI"))}
    assert not above, f"llama.cpp was compiled with {above}: it will crash on CPUs without them"


def _llama_libraries() -> list[Path]:
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib"
    found = sorted(lib.glob("*.so"))  # the unversioned names; the .so.N files are copies of them
    assert any(p.name.startswith("libggml-cpu") for p in found), f"no CPU backend in {lib}"
    return found


def offending_instructions(library: Path, limit: int = 5) -> list[str]:
    """Disassembled lines of `library` that only a CPU above the floor can run."""
    # zmm registers, k masks and registers 16-31 are AVX-512 only; tile*/tmm are AMX.
    forbidden = re.compile(r"%zmm\d|%k[1-7]\b|\btile\w*\b|%tmm\d|%[xy]mm(1[6-9]|2\d|3[01])\b")
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
def test_llama_libraries_contain_no_avx512_or_amx_instruction():
    # The system-info flags say what the build asked for; the machine code is what a CPU runs.
    for library in _llama_libraries():
        found = offending_instructions(library)
        assert not found, f"{library.name} holds instructions above the floor: {found}"
