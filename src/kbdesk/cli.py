"""The `kbdesk` command line: ingest, search, list, remove, models, demo; no command opens the GUI."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from kbdesk import __version__
from kbdesk.core.errors import Cancelled, KbdeskError
from kbdesk.core.paths import DEFAULT_COLLECTION
from kbdesk.core.types import FileStatus, Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
        "--collection", default=DEFAULT_COLLECTION, help="collection name (default: %(default)s)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="import files and folders (recursively)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--no-ocr", action="store_true", help="do not OCR pages without a text layer")
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
        choices=["convex", "rrf"],
        default="convex",
        help="how hybrid merges the two lists (default: %(default)s)",
    )
    p.add_argument(
        "--document",
        action="append",
        default=[],
        help="only search this document (name, path or id); repeatable",
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("list", help="list documents and their status")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("remove", help="remove documents from the collection")
    p.add_argument("paths", nargs="+", metavar="PATH")

    p = sub.add_parser("collections", help="list collections")
    p.add_argument("--json", action="store_true")

    sub.add_parser("models", help="list embedding models (and, later, chat models)")
    p = sub.add_parser("demo", help="import the bundled sample documents and run a search")
    p.add_argument("query", nargs="?", default="How long do the duties of confidentiality last?")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
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
        print(f"kbdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _open(args, **create_options):
    from kbdesk.core.kb import KnowledgeBase

    return KnowledgeBase.open(args.data_dir, args.collection, **create_options)


class _TerminalProgress:
    """A tqdm bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self):
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)

    def __call__(self, progress: Progress) -> None:
        if self.bar is None or progress.total is None:
            return
        self.bar.total = progress.total
        self.bar.n = progress.done
        label = (
            progress.stage if not progress.item else f"{progress.stage} {Path(progress.item).name}"
        )
        self.bar.set_description(label[:40], refresh=False)
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


_MARK = {
    FileStatus.IMPORTED: "imported",
    FileStatus.UPDATED: "updated",
    FileStatus.UNCHANGED: "unchanged",
    FileStatus.DUPLICATE: "skipped",
    FileStatus.FAILED: "FAILED",
    FileStatus.REMOVED: "removed",
}


def cmd_ingest(args) -> int:
    options = {
        k: v
        for k, v in {
            "embedder": args.embedder,
            "chunk_size": args.chunk_size,
            "chunk_overlap": args.chunk_overlap,
        }.items()
        if v is not None
    }
    bar = _TerminalProgress()

    def on_file(result):
        if args.json:
            return
        line = f"{_MARK[result.status]:>9}  {result.path}"
        if result.status in (FileStatus.IMPORTED, FileStatus.UPDATED):
            pages = f"{result.pages} pages, " if result.pages else ""
            line += f"  ({pages}{result.chunks} chunks, {result.embedded} embedded)"
        if result.reason:
            line += f"  — {result.reason}"
        (bar.bar.write(line, file=sys.stdout) if bar.bar else print(line, flush=True))

    with _open(args, **options) as kb:
        try:
            report = kb.import_paths(args.paths, ocr=not args.no_ocr, progress=bar, on_file=on_file)
        finally:
            bar.close()
    counts = {s: len(report.by_status(s)) for s in _MARK}
    if args.json:
        print(
            json.dumps(
                {
                    "results": [r.__dict__ for r in report.results],
                    "counts": counts,
                    "cancelled": report.cancelled,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        parts = [f"{n} {_MARK[s].lower()}" for s, n in counts.items() if n]
        print(f"Summary: {', '.join(parts) or 'nothing to import'}.")
        for failure in report.failed:
            print(f"  failed: {failure.path}: {failure.reason}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_search(args) -> int:
    with _open(args, create=False) as kb:
        hits = kb.search(
            args.query, k=args.k, mode=args.mode, documents=args.document, fusion=args.fusion
        )
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not hits:
        print("No matching passages.")
    for hit in hits:
        where = f"{hit.document}" + (f", page {hit.page}" if hit.page else "")
        snippet = " ".join(hit.text.split())
        print(f"[{hit.rank}] {where}  (score {hit.score:.3f})\n    {snippet[:300]}")
    return EXIT_OK


def cmd_list(args) -> int:
    with _open(args, create=False) as kb:
        docs = kb.documents()
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not docs:
        print(f"Collection '{args.collection}' is empty.")
    for d in docs:
        detail = f"{d.pages} pages, {d.chunks} chunks" if d.status == "ready" else (d.error or "")
        print(f"{d.status:>9}  {d.name}  ({detail})  {d.path}")
    return EXIT_OK


def cmd_remove(args) -> int:
    with _open(args, create=False) as kb:
        results = kb.remove(args.paths)
    for r in results:
        print(f"{_MARK[r.status]:>9}  {r.path}" + (f"  — {r.reason}" if r.reason else ""))
    return EXIT_OK if all(r.status == FileStatus.REMOVED for r in results) else EXIT_FAILED


def cmd_collections(args) -> int:
    from kbdesk.core.kb import KnowledgeBase

    names = KnowledgeBase.collections(args.data_dir)
    print(json.dumps(names) if args.json else ("\n".join(names) or "No collections yet."))
    return EXIT_OK


def cmd_models(args) -> int:
    from kbdesk.core.embed import DEFAULT_EMBEDDER, describe_embedders

    print("Embedding models:")
    for name, text in describe_embedders().items():
        print(f"  {name:<18} {text}{'  (default)' if name == DEFAULT_EMBEDDER else ''}")
    return EXIT_OK


def cmd_demo(args) -> int:
    """Until the window exists, `make run` shows the core working on the bundled samples."""
    from kbdesk.resources import samples_dir

    folder = samples_dir()
    print(f"Importing the bundled samples from {folder} ...")
    args.paths, args.no_ocr, args.json = [str(folder)], False, False
    args.embedder = args.chunk_size = args.chunk_overlap = None
    status = cmd_ingest(args)
    for query in (args.query, "术后多久可以洗澡？"):
        print(f"\nSearch: {query}")
        args.query, args.k, args.mode, args.document, args.fusion = query, 3, "hybrid", [], "convex"
        cmd_search(args)
    return status


COMMANDS = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "list": cmd_list,
    "remove": cmd_remove,
    "collections": cmd_collections,
    "models": cmd_models,
    "demo": cmd_demo,
}

if __name__ == "__main__":
    sys.exit(main())
