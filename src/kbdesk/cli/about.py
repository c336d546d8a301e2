"""`kbdesk about`: where this kbdesk runs from and keeps its data, for support and for the
installer's smoke test (which checks that nothing is loaded from outside the installation)."""

from __future__ import annotations

import json
import platform
import sys

from kbdesk import __version__
from kbdesk.cli.common import EXIT_OK


def about(data_dir: str | None) -> dict:
    from kbdesk.core.generate.cpu_floor import build_tag, missing_features
    from kbdesk.core.paths import AppPaths, describe_model_dirs

    paths = AppPaths.resolve(data_dir)
    return {
        "version": __version__,
        "program": sys.executable,
        "installed": bool(getattr(sys, "frozen", False)),
        "python": platform.python_version(),
        "llama_cpp_build": build_tag(),
        "processor_lacks": missing_features(),
        "data_dir": str(paths.data_dir),
        "config_dir": str(paths.config_dir),
        "log_dir": str(paths.log_dir),
        "model_dirs": [str(folder) for folder in describe_model_dirs(paths)],
        "sys_path": list(sys.path),
    }


def cmd_about(args) -> int:
    facts = about(args.data_dir)
    if args.json:
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"kbdesk {facts['version']} ({'installed' if facts['installed'] else 'from source'})")
    print(f"  program      {facts['program']}")
    print(f"  llama.cpp    built for {facts['llama_cpp_build']}")
    lacks = facts["processor_lacks"]
    print(f"  processor    {'lacks ' + ', '.join(lacks) if lacks else 'above the build floor'}")
    for key in ("data_dir", "config_dir", "log_dir"):
        print(f"  {key.replace('_', ' '):<12} {facts[key]}")
    print(f"  models in    {', '.join(facts['model_dirs'])}")
    return EXIT_OK
