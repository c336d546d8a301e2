"""`make bench` runs bench/run_all.py: it knows every benchmark script and its commands exist."""

from __future__ import annotations

from pathlib import Path

from bench.run_all import BENCHMARKS, chosen, command, main

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_script_is_run_and_every_command_names_a_real_script():
    scripts = {p.name for p in (ROOT / "bench").glob("bench_*.py")}
    assert {b.script for b in BENCHMARKS} == scripts
    for bench in BENCHMARKS:
        for quick in (False, True):
            assert (ROOT / command(bench, quick)[1]).is_file()


def test_quick_leaves_out_the_portable_build_and_list_runs_nothing(capsys):
    class Args:
        quick, only, skip = True, None, ["answers"]

    names = [b.name for b in chosen(Args)]
    assert "portable_build" not in names and "answers" not in names and "import" in names
    assert main(["--list", "--quick"]) == 0
    assert "bench/bench_import.py --pages 100" in capsys.readouterr().out
