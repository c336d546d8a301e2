"""What every command shares: exit codes, the saved settings with the flags applied, opening
the collection."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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

    return KnowledgeBase.open(args.data_dir, settings_for(args).collection, **create_options)
