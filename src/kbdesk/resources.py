"""Finds the assets shipped inside the package (icon, sample documents, welcome guide).

They live in `kbdesk/assets/`, declared as package data, so a checkout, an installed wheel and
a frozen app (which must collect kbdesk's package data) all find them the same way. Paths are
computed when asked for, never at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path

ASSETS = "assets"


def resources_dir() -> Path:
    """The folder holding the bundled assets."""
    here = Path(__file__).resolve().parent / ASSETS
    frozen = getattr(sys, "_MEIPASS", None)
    if not here.is_dir() and frozen:  # a frozen app whose modules sit apart from its data
        return Path(frozen) / "kbdesk" / ASSETS
    return here


def samples_dir() -> Path:
    """The sample documents offered on first run (one English, one Chinese)."""
    return resources_dir() / "samples"


def icon_path() -> Path:
    """The window icon."""
    return resources_dir() / "kbdesk.png"


def welcome_guide() -> Path:
    """A short guide to the app, kept beside the samples, not among them."""
    return resources_dir() / "Welcome_to_kbdesk.md"
