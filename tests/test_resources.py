"""The icon and the sample documents ship inside the package: found in a checkout and in a wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from kbdesk.resources import icon_path, samples_dir, welcome_guide

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {"Sample_Mutual_NDA.pdf", "示例_术后护理须知.pdf"}


def test_the_checkout_finds_the_icon_and_the_samples():
    assert icon_path().read_bytes().startswith(b"\x89PNG")
    assert {p.name for p in samples_dir().iterdir()} == SAMPLES
    assert welcome_guide().is_file() and welcome_guide().parent != samples_dir()


def test_a_built_wheel_carries_them_and_finds_them_once_unpacked(tmp_path):
    source = tmp_path / "source"  # a copy, so the build writes nothing into the checkout
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "kbdesk",
        source / "src" / "kbdesk",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    build += ["--no-index", "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist")]
    subprocess.run([*build, str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("kbdesk-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    assert "kbdesk/assets/kbdesk.png" in names
    assert {f"kbdesk/assets/samples/{name}" for name in SAMPLES} <= names

    # What an installed copy sees: kbdesk imported from the unpacked wheel, not the checkout.
    probe = (
        "import json, kbdesk.resources as r; print(json.dumps([str(r.icon_path()), "
        "sorted(p.name for p in r.samples_dir().iterdir())]))"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {probe}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    icon, samples = json.loads(out)
    assert Path(icon).is_file() and Path(icon).is_relative_to(tmp_path / "site")
    assert set(samples) == SAMPLES
