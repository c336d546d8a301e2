"""The installed program against the checkout it was built from: cold start to a usable window and
time to the first answer token of a fresh `kbdesk ask`, interleaved, plus the installed sizes.

Needs the packages (`make package`). Both programs run with the same scrubbed environment
(packaging/test_installed.py), the same data folder and the same packaged model file, the warm
helper off, so the difference is the program's own start (PyInstaller's bootloader and archive
against a virtualenv's site-packages). Goal (issue 11): the window ready within 2 s.
Usage: .venv/bin/python bench/bench_installed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from test_installed import PACKAGES, QUESTION, Installed, window  # noqa: E402

from tests.helpers import LEASE_PAGES, ZH_PAGES, make_pdf  # noqa: E402

SOURCE = ROOT / ".venv" / "bin" / "kbdesk"
GOAL_WINDOW_S = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    debs = sorted(d for d in PACKAGES.glob("*.deb") if "training" not in d.name)
    if not any(d.name.startswith("kbdesk_") for d in debs):
        print(f"No packages in {PACKAGES}: run `make package` first.", file=sys.stderr)
        return 2
    for deb in sorted(PACKAGES.glob("*.deb")):
        print(f"package {deb.name}: {deb.stat().st_size / 1e6:,.0f} MB")
    work = Path(tempfile.mkdtemp(prefix="kbdesk-bench-installed-"))
    try:
        installed = Installed(work, debs)
        size = sum(f.stat().st_size for f in installed.root.rglob("*") if f.is_file())
        program = sum(
            f.stat().st_size for f in (installed.root / "opt/kbdesk").rglob("*") if f.is_file()
        )
        model = next((installed.root / "opt/kbdesk/models").glob("*.gguf"))
        print(f"installed: {size / 1e6:,.0f} MB ({program / 1e6:,.0f} MB program with model)")
        docs = work / "documents"
        make_pdf(docs / "lease.pdf", LEASE_PAGES)
        make_pdf(docs / "zh.pdf", ZH_PAGES, cjk=True)
        installed.run("--data-dir", str(installed.data), "ingest", str(docs))
        programs = {"installed": installed.program, "checkout": SOURCE}
        shot = work / "window.png"
        ready: dict[str, list[float]] = {name: [] for name in programs}
        token: dict[str, list[float]] = {name: [] for name in programs}
        for _ in range(args.rounds):
            for name, path in programs.items():
                ready[name].append(window(installed, shot, program=path))
                token[name].append(
                    installed.first_answer_token(
                        QUESTION, "--model", str(model), program=path, KBDESK_HELPER="0"
                    )
                )
        print(f"\n{'':34}{'installed':>10}{'checkout':>10}{'ratio':>8}")
        for label, values in (
            ("window ready (s, median)", ready),
            ("first answer token (s)", token),
        ):
            a, b = statistics.median(values["installed"]), statistics.median(values["checkout"])
            print(f"{label:34}{a:10.2f}{b:10.2f}{a / b:8.2f}")
        best = statistics.median(ready["installed"])
        print(
            f"\nwindow ready within {GOAL_WINDOW_S} s: {'yes' if best <= GOAL_WINDOW_S else 'NO'}"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
