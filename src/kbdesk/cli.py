"""The `kbdesk` command line: ingest, search, ask, list, remove, models, demo; no command opens
the window. Commands honour the window's saved settings (collection, model, adapter, passages,
temperature, OCR, embedder for new collections); their flags override them."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from kbdesk import __version__
from kbdesk.core.errors import Cancelled, KbdeskError
from kbdesk.core.messages import Audience, explain
from kbdesk.core.types import AnswerOutcome, DocStatus, FileStatus, Progress, source_place

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
        "--collection", help="collection name (default: the one last open in the window)"
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
        return _open_window(args, parser)
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


def _open_window(args, parser) -> int:
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
    return run_gui(args.data_dir)


def _settings(args):
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


def _open(args, **create_options):
    from kbdesk.core.kb import KnowledgeBase

    return KnowledgeBase.open(args.data_dir, _settings(args).collection, **create_options)


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
            "embedder": args.embedder or _settings(args).embedder,
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
            report = kb.import_paths(
                args.paths,
                ocr=_settings(args).ocr and not args.no_ocr,
                progress=bar,
                on_file=on_file,
            )
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
        where = source_place(hit.document, hit.page)
        snippet = " ".join(hit.text.split())
        print(f"[{hit.rank}] {where}  (score {hit.score:.3f})\n    {snippet[:300]}")
    return EXIT_OK


class _HoldSentinel:
    """Streams answer text to the terminal but holds back a NOT_IN_DOCUMENTS reply."""

    def __init__(self):
        from kbdesk.core.generate.prompt import NOT_IN_DOCUMENTS

        self.sentinel = NOT_IN_DOCUMENTS
        self.buffer = ""
        self.flushed = False

    def __call__(self, piece: str) -> None:
        if self.flushed:
            print(piece, end="", flush=True)
            return
        self.buffer += piece
        head = self.buffer.lstrip()
        if not (self.sentinel.startswith(head) or head.startswith(self.sentinel)):
            print(self.buffer, end="", flush=True)
            self.flushed = True


def cmd_ask(args) -> int:
    from dataclasses import replace

    from kbdesk.core.assistant import Assistant, ModelCache

    overrides = {
        "model": args.model,
        "adapter": args.adapter,
        "passages": args.passages,
        "temperature": args.temperature,
    }
    settings = replace(_settings(args), **{k: v for k, v in overrides.items() if v is not None})
    if args.no_adapter:
        settings = replace(settings, adapter=None)
    with _open(args, create=args.no_rag) as kb:
        models = ModelCache(kb.paths.models_dir)
        try:
            stream = _HoldSentinel() if sys.stdout.isatty() and not args.json else None
            reply = Assistant(kb, settings, models).ask(
                args.question,
                chat=args.chat,
                use_rag=not args.no_rag,
                documents=tuple(args.document),
                on_token=stream,
            )
        finally:
            models.close()
    answer, chat_id = reply.answer, reply.chat_id
    if args.json:
        data = answer.to_json()
        if chat_id is not None:
            data["chat"] = chat_id
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    if stream is None or not stream.flushed or answer.answer != stream.buffer:
        if stream is not None and stream.flushed:
            print("\n\nChecked answer:")
        print(answer.answer)
    else:
        print()
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            where = source_place(c.document, c.page)
            print(f"  [{c.n}] {where}: {' '.join(c.text.split())[:160]}")
    if answer.outcome is not AnswerOutcome.ANSWERED and answer.nearest:
        print("\nNearest passages in your documents:")
        for h in answer.nearest:
            print(f"  - {source_place(h.document, h.page)}: {' '.join(h.text.split())[:120]}")
    if answer.notice:
        print(f"\nNote: {answer.notice}")
    print(
        f"\n(model: {answer.model}"
        + (f", adapter: {answer.adapter}" if answer.adapter else "")
        + (f", chat: {chat_id}" if chat_id is not None else "")
        + ")"
    )
    return EXIT_OK


def cmd_list(args) -> int:
    with _open(args, create=False) as kb:
        docs = kb.documents()
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not docs:
        print(f"Collection '{_settings(args).collection}' is empty.")
    for d in docs:
        detail = (
            f"{d.pages} pages, {d.chunks} chunks"
            if d.status == DocStatus.READY
            else (d.error or "")
        )
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
    from kbdesk.core.errors import ModelMissing
    from kbdesk.core.generate.models import ModelRegistry
    from kbdesk.core.paths import AppPaths

    print("Embedding models:")
    for name, text in describe_embedders().items():
        print(f"  {name:<18} {text}{'  (default)' if name == DEFAULT_EMBEDDER else ''}")
    registry = ModelRegistry(AppPaths.resolve(args.data_dir).models_dir)
    try:
        default = registry.default().name
    except ModelMissing as exc:
        default = None
        print(f"\nChat models: none installed. {explain(exc, Audience.CLI)}")
    models = registry.list()
    if models:
        print("\nChat models:")
        for m in models:
            tag = "  (default)" if m.name == default else ""
            print(f"  {m.name:<34} {m.size / 1e9:.2f} GB  {m.path}{tag}")
    return EXIT_OK


def cmd_demo(args) -> int:
    """Import the bundled samples, search them in English and Chinese, and ask one question."""
    from kbdesk.resources import samples_dir

    folder = samples_dir()
    print(f"Importing the bundled samples from {folder} ...")
    args.paths, args.no_ocr, args.json = [str(folder)], False, False
    args.embedder = args.chunk_size = args.chunk_overlap = None
    status = cmd_ingest(args)
    question = args.query
    for query in (question, "术后多久可以洗澡？"):
        print(f"\nSearch: {query}")
        args.query, args.k, args.mode, args.document, args.fusion = query, 3, "hybrid", [], "convex"
        cmd_search(args)
    from kbdesk.core.errors import ModelMissing

    print(f"\nAsk: {question}")
    args.question, args.json, args.no_rag, args.adapter, args.model = (
        question,
        False,
        False,
        None,
        None,
    )
    args.chat, args.passages, args.temperature, args.no_adapter = None, None, None, False
    try:
        cmd_ask(args)
    except ModelMissing as exc:
        print(f"(No answer model: {explain(exc, Audience.CLI)})")
    return status


COMMANDS = {
    "ask": cmd_ask,
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
