"""requirements.lock (build/lock.sh) agrees with pyproject.toml: every dependency is locked at a
version its specifier allows, with a hash, so the set-up and the installer build install exactly it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
ENTRY = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)", re.M
)


def locked() -> dict[str, tuple[str, int]]:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    return {
        canonicalize_name(name): (version, hashes.count("--hash=sha256:"))
        for name, version, hashes in ENTRY.findall(text)
    }


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [
        Requirement(r)
        for r in project["dependencies"] + [r for extra in extras.values() for r in extra]
    ]


def test_every_dependency_is_locked_at_an_allowed_version_with_a_hash():
    lock = locked()
    assert len(lock) > 50  # the parser read the file
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is not in requirements.lock: run `make lock`"
        version, hashes = lock[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} in requirements.lock does not satisfy {requirement}: `make lock`"
        )
        assert hashes >= 1


def test_torch_is_locked_to_the_cpu_build():
    assert locked()["torch"][0].endswith("+cpu")  # a CUDA build is several GB
