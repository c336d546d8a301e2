"""`kbdesk about`: prints where this kbdesk runs from and keeps its data (kbdesk.core.about)."""

from __future__ import annotations

import json

from kbdesk.cli.common import EXIT_OK
from kbdesk.core.about import about


def cmd_about(args) -> int:
    facts = about(args.data_dir)
    cpu = facts["llama_cpp_cpu_library"]["variant"]
    if args.json:
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"kbdesk {facts['version']} ({'installed' if facts['installed'] else 'from source'})")
    print(f"  program      {facts['program']}")
    print(f"  llama.cpp    built for {facts['llama_cpp_build']}, runs {cpu or 'nothing here'}")
    lacks = facts["processor_lacks"]
    print(f"  processor    {'lacks ' + ', '.join(lacks) if lacks else 'above the build floor'}")
    for key in ("data_dir", "config_dir", "log_dir"):
        print(f"  {key.replace('_', ' '):<12} {facts[key]}")
    print(f"  models in    {', '.join(facts['model_dirs'])}")
    return EXIT_OK
