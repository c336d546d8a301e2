"""What every command shares: exit codes, the saved settings with the flags applied, opening
the collection (asking for an encrypted one's passphrase when it must)."""

from __future__ import annotations

import getpass
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kbdesk.core.errors import KbdeskError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def settings_for(args):
    """The saved settings, with the collection flag applied (read once per command)."""
    from dataclasses import replace

    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore

    if getattr(args, "settings", None) is None:
        settings = SettingsStore(AppPaths.resolve(args.data_dir).config_dir).load()
        if args.collection:
            settings = replace(settings, collection=args.collection)
        args.settings = settings
    return args.settings


def open_collection(args, **create_options):
    from kbdesk.core.kb import KnowledgeBase

    name = settings_for(args).collection
    return unlocking(
        args,
        name,
        lambda secret: KnowledgeBase.open(args.data_dir, name, secret=secret, **create_options),
    )


def collection_folder(args, name: str | None = None) -> Path:
    from kbdesk.core.paths import AppPaths

    return AppPaths.resolve(args.data_dir).collection_dir(name or settings_for(args).collection)


def unlocking(args, name: str, use: Callable[[str | None], T]) -> T:
    """`use(None)`: a plain collection, or one the key store remembers, opens so; an encrypted
    and locked one is given its passphrase or recovery key (asked only then)."""
    from kbdesk.core.errors import CollectionLocked

    try:
        return use(None)
    except CollectionLocked:
        return use(read_secret(args, f"Passphrase or recovery key for collection '{name}': "))


def read_secret(args, prompt: str, *, new: bool = False) -> str:
    """A secret from --passphrase-file (never from an argument other users could see in the
    process list), else typed at the terminal without echo; a new one is typed twice."""
    if getattr(args, "passphrase_file", None):
        return _secret_file(args.passphrase_file)
    if not sys.stdin.isatty():
        raise KbdeskError(
            "This collection needs a passphrase, and there is no terminal to ask for it.",
            hint="Give a file that holds it with --passphrase-file FILE ('-' reads standard input).",
        )
    secret = getpass.getpass(prompt)
    if new and getpass.getpass("Type it again: ") != secret:
        raise KbdeskError("The two passphrases differ; nothing was changed.")
    return secret


def _secret_file(name: str) -> str:
    """The first line of the file ('-': standard input), without its line end."""
    try:
        if name == "-":
            line = sys.stdin.readline()
        else:
            path = Path(name).expanduser()
            mode = path.stat().st_mode
            if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                print(
                    f"kbdesk: warning: other users can read {path}; "
                    f"chmod 600 {path} keeps the passphrase yours.",
                    file=sys.stderr,
                )
            with path.open(encoding="utf-8") as fh:
                line = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise KbdeskError(f"The passphrase file {name} cannot be read ({exc}).") from exc
    secret = line.rstrip("\r\n")
    if not secret:
        raise KbdeskError(f"The passphrase file {name} is empty.")
    return secret
