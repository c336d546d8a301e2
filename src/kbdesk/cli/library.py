"""The collection commands: ingest, search, list, remove, collections, models and demo."""

from __future__ import annotations

import json
import sys

from kbdesk.cli.common import EXIT_FAILED, EXIT_OK, open_collection, settings_for
from kbdesk.cli.terminal import MARK, TerminalProgress
from kbdesk.core.kb import DEFAULT_FUSION
from kbdesk.core.messages import Audience, explain
from kbdesk.core.types import DocStatus, FileStatus, source_place


def cmd_ingest(args) -> int:
    options = {
        k: v
        for k, v in {
            "embedder": args.embedder or settings_for(args).embedder,
            "chunk_size": args.chunk_size,
            "chunk_overlap": args.chunk_overlap,
        }.items()
        if v is not None
    }
    bar = TerminalProgress()

    def on_file(result):
        if args.json:
            return
        line = f"{MARK[result.status]:>9}  {result.path}"
        if result.status in (FileStatus.IMPORTED, FileStatus.UPDATED):
            pages = f"{result.pages} pages, " if result.pages else ""
            line += f"  ({pages}{result.chunks} chunks, {result.embedded} embedded)"
        if result.reason:
            line += f"  — {result.reason}"
        (bar.bar.write(line, file=sys.stdout) if bar.bar else print(line, flush=True))

    with open_collection(args, **options) as kb:
        try:
            report = kb.import_paths(
                args.paths,
                ocr=settings_for(args).ocr and not args.no_ocr,
                again=args.again,
                progress=bar,
                on_file=on_file,
            )
        finally:
            bar.close()
    counts = {s: len(report.by_status(s)) for s in MARK}
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
        parts = [f"{n} {MARK[s].lower()}" for s, n in counts.items() if n]
        print(f"Summary: {', '.join(parts) or 'nothing to import'}.")
        for failure in report.failed:
            print(f"  failed: {failure.path}: {failure.reason}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_search(args) -> int:
    with open_collection(args, create=False) as kb:
        hits = kb.search(
            args.query, k=args.k, mode=args.mode, documents=args.document, fusion=args.fusion
        )
    return print_hits(args, hits)


def print_hits(args, hits) -> int:
    """Search results as JSON (--json) or as numbered places with a snippet."""
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not hits:
        print("No matching passages.")
    for hit in hits:
        where = source_place(hit.document, hit.page, hit.section)
        snippet = " ".join(hit.text.split())
        print(f"[{hit.rank}] {where}  (score {hit.score:.3f})\n    {snippet[:300]}")
    return EXIT_OK


def cmd_list(args) -> int:
    with open_collection(args, create=False) as kb:
        docs = kb.documents()
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not docs:
        print(f"Collection '{settings_for(args).collection}' is empty.")
    for d in docs:
        detail = (
            f"{d.pages} pages, {d.chunks} chunks"
            if d.status == DocStatus.READY
            else (d.error or "")
        )
        print(f"{d.status:>9}  {d.name}  ({detail})  {d.path}")
    return EXIT_OK


def cmd_remove(args) -> int:
    with open_collection(args, create=False) as kb:
        results = kb.remove(args.paths)
    for r in results:
        print(f"{MARK[r.status]:>9}  {r.path}" + (f"  — {r.reason}" if r.reason else ""))
    return EXIT_OK if all(r.status == FileStatus.REMOVED for r in results) else EXIT_FAILED


def cmd_collections(args) -> int:
    from kbdesk.core import encryption
    from kbdesk.core.kb import KnowledgeBase

    names = KnowledgeBase.collections(args.data_dir)
    if args.json:
        print(json.dumps(names))
        return EXIT_OK
    lines = [f"{n}  (encrypted)" if encryption.encrypted(args.data_dir, n) else n for n in names]
    print("\n".join(lines) or "No collections yet.")
    return EXIT_OK


def cmd_models(args) -> int:
    from kbdesk.core.embed import DEFAULT_EMBEDDER, describe_embedders
    from kbdesk.core.errors import ModelMissing
    from kbdesk.core.generate.models import ModelRegistry
    from kbdesk.core.paths import AppPaths, describe_model_dirs

    print("Embedding models:")
    for name, text in describe_embedders().items():
        print(f"  {name:<18} {text}{'  (default)' if name == DEFAULT_EMBEDDER else ''}")
    paths = AppPaths.resolve(args.data_dir)
    registry = ModelRegistry(paths.model_dirs)
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
    print("\nModels folders, in the order they are searched:")
    for folder, role in describe_model_dirs(paths).items():
        print(f"  {folder}  ({role})")
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
        args.query, args.k, args.mode, args.document, args.fusion = (
            query,
            3,
            "hybrid",
            [],
            DEFAULT_FUSION,
        )
        cmd_search(args)
    from kbdesk.cli.ask import cmd_ask
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
    args.evidence_first = None
    try:
        cmd_ask(args)
    except ModelMissing as exc:
        print(f"(No answer model: {explain(exc, Audience.CLI)})")
    return status
