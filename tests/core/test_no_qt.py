"""The core never imports Qt: checked both statically and by importing every core module."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import kbdesk.core

CORE = Path(kbdesk.core.__file__).parent
QT = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "qtpy", "superqt")


def test_no_core_source_file_imports_qt():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in QT]
    assert not offenders


def test_importing_every_core_module_loads_no_qt():
    modules = [m.name for m in pkgutil.walk_packages([str(CORE)], "kbdesk.core.")]
    assert "kbdesk.core.kb" in modules and "kbdesk.core.ingest.pdf" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
