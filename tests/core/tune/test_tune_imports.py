"""The training modules import one another without a circle, counting imports inside functions too
(import-linter's contracts see only the app side's forbidden ones)."""

from __future__ import annotations

import ast
from pathlib import Path

import kbdesk.core

CORE = Path(kbdesk.core.__file__).parent


def imported(path: Path, package: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith(package + ".")}
    return found


def graph(folder: Path, package: str) -> dict[str, set[str]]:
    modules = {f"{package}.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    return {name: imported(path, package) & set(modules) for name, path in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_training_modules_import_one_another_without_a_circle():
    edges = graph(CORE / "tune", "kbdesk.core.tune")
    assert "kbdesk.core.tune.jobdir" in edges["kbdesk.core.tune.pipeline"]  # the graph is read
    assert cycle(edges) is None, " -> ".join(cycle(edges) or [])


def test_the_cycle_check_finds_a_circle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
