"""Parsing the command line and dispatching to the commands; no command opens the window."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kbdesk import __version__
from kbdesk.cli import locking, server, tune
from kbdesk.cli.about import cmd_about
from kbdesk.cli.ask import cmd_ask
from kbdesk.cli.common import EXIT_FAILED, EXIT_USAGE
from kbdesk.cli.library import (
    cmd_collections,
    cmd_demo,
    cmd_ingest,
    cmd_list,
    cmd_models,
    cmd_remove,
    cmd_search,
)
from kbdesk.core.errors import Cancelled, KbdeskError
from kbdesk.core.kb import DEFAULT_FUSION, FUSIONS
from kbdesk.core.messages import Audience, explain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kbdesk", description="Offline knowledge base with cited answers."
    )
    parser.add_argument("--version", action="version", version=f"kbdesk {__version__}")
    parser.add_argument(
        "--data-dir",
        help="where collections and models live (default: per-user data folder; "
        "or set KBDESK_HOME)",
    )
    parser.add_argument(
        "--collection", help="collection name (default: the one last open in the window)"
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read an encrypted collection's passphrase or recovery key from the first line of "
        "FILE ('-': standard input) instead of asking for it",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="import files and folders (recursively)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--no-ocr", action="store_true", help="do not OCR pages without a text layer")
    p.add_argument(
        "--again",
        action="store_true",
        help="read the files again even if unchanged (the old version stays until the new is saved)",
    )
    p.add_argument(
        "--embedder",
        help="embedder for a NEW collection: use-multilingual, minilm, or a "
        "sentence-transformers folder",
    )
    p.add_argument("--chunk-size", type=int, help="target chunk size for a NEW collection")
    p.add_argument("--chunk-overlap", type=int, help="chunk overlap for a NEW collection")
    p.add_argument("--json", action="store_true", help="print the per-file results as JSON")

    p = sub.add_parser("search", help="search the collection")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="number of results (default: %(default)s)")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    p.add_argument(
        "--fusion",
        choices=FUSIONS,
        default=DEFAULT_FUSION,
        help="how hybrid merges the two lists (default: %(default)s)",
    )
    p.add_argument(
        "--document",
        action="append",
        default=[],
        help="only search this document (name, path or id); repeatable",
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ask", help="answer a question from the documents, with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-rag", action="store_true", help="answer without the documents")
    p.add_argument("--adapter", help="LoRA adapter name (or .gguf path) to answer with")
    p.add_argument("--no-adapter", action="store_true", help="answer without the chosen adapter")
    p.add_argument(
        "--model", help="chat model name or GGUF path (default: the one chosen in Settings)"
    )
    p.add_argument(
        "--chat", help="continue this saved chat (follow-up questions); 'new' starts one"
    )
    p.add_argument(
        "--passages", type=int, help="passages given to the model (default: from Settings)"
    )
    p.add_argument(
        "--temperature", type=float, help="sampling temperature 0-2 (default: from Settings)"
    )
    p.add_argument(
        "--document", action="append", default=[], help="only use this document; repeatable"
    )
    p.add_argument(
        "--evidence-first",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let the model choose the sentences that answer before answering (default: from "
        "Settings; off)",
    )

    p = sub.add_parser("list", help="list documents and their status")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("remove", help="remove documents from the collection")
    p.add_argument("paths", nargs="+", metavar="PATH")

    p = sub.add_parser("collections", help="list collections")
    p.add_argument("--json", action="store_true")

    sub.add_parser("models", help="list the embedding and chat models and where models are found")
    p = sub.add_parser("about", help="version, program and data locations (for support)")
    p.add_argument("--json", action="store_true")
    tune.add_parsers(sub)
    locking.add_parsers(sub)
    server.add_parsers(sub)
    p = sub.add_parser("demo", help="import the bundled sample documents and run a search")
    p.add_argument("query", nargs="?", default="How long do the duties of confidentiality last?")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    opened = files_to_open(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args([] if opened else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        return _open_window(args, parser, opened)
    try:
        return COMMANDS[args.command](args)
    except Cancelled:
        print("Cancelled.", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(
            "\nInterrupted; everything imported so far is kept. Run the same command to resume.",
            file=sys.stderr,
        )
        return 130
    except KbdeskError as exc:
        print(f"kbdesk: {explain(exc, Audience.CLI)}", file=sys.stderr)
        return EXIT_FAILED


def files_to_open(argv: list[str]) -> list[str]:
    """`kbdesk FILE...` (a file manager's "Open with kbdesk"): the files, to import in the window."""
    if argv and all(a not in COMMANDS and not a.startswith("-") and Path(a).exists() for a in argv):
        return [str(Path(a).resolve()) for a in argv]
    return []


def _open_window(args, parser, files: list[str]) -> int:
    """No command: the desktop app, or the help text where no GUI toolkit is installed."""
    try:
        import PySide6  # noqa: F401

        from kbdesk.gui.app import run_gui
    except ImportError as exc:
        parser.print_help()
        print(
            f"\nkbdesk: the desktop app needs PySide6 ({exc}); install kbdesk[gui].",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return run_gui(args.data_dir, files=files)


COMMANDS = {
    "ask": cmd_ask,
    "ingest": cmd_ingest,
    "search": cmd_search,
    "list": cmd_list,
    "remove": cmd_remove,
    "collections": cmd_collections,
    "models": cmd_models,
    "demo": cmd_demo,
    "about": cmd_about,
    **tune.COMMANDS,
    **locking.COMMANDS,
    **server.COMMANDS,
}

if __name__ == "__main__":
    sys.exit(main())
