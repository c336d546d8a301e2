"""Finds bundled assets (samples, icons) from a checkout, an installed package or a frozen app."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    here = Path(__file__).resolve()
    for candidate in (here.parent / "resources", here.parents[2] / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "resources"


def samples_dir() -> Path:
    return resources_dir() / "samples"
