"""`kbdesk ask`: a thin caller of the core's Assistant, streaming to a terminal or printing JSON."""

from __future__ import annotations

import json
import sys

from kbdesk.cli.ask_request import AskRequest
from kbdesk.cli.common import EXIT_OK, settings_for, unlocking
from kbdesk.core.generate.faithfulness import without_page_furniture
from kbdesk.core.types import Answer, AnswerOutcome, source_place


class TerminalStream:
    """Prints the streamed answer as it comes, and remembers what it printed."""

    def __init__(self):
        self.printed = ""

    def __call__(self, piece: str) -> None:
        print(piece, end="", flush=True)
        self.printed += piece


def cmd_ask(args) -> int:
    from dataclasses import replace

    from kbdesk.core.paths import AppPaths

    overrides = {
        "model": args.model,
        "adapter": args.adapter,
        "passages": args.passages,
        "temperature": args.temperature,
        "evidence_first": args.evidence_first,
    }
    settings = replace(settings_for(args), **{k: v for k, v in overrides.items() if v is not None})
    if args.no_adapter:
        settings = replace(settings, adapter=None)
    request = AskRequest(
        data_dir=str(AppPaths.resolve(args.data_dir).data_dir),
        settings=settings.validated(),
        question=args.question,
        chat=args.chat,
        use_rag=not args.no_rag,
        documents=tuple(args.document),
    )
    stream = TerminalStream() if sys.stdout.isatty() and not args.json else None
    answer, chat_id = unlocking(
        args, request.settings.collection, lambda secret: _answer(request, stream, secret)
    )
    if args.json:
        data = answer.to_json()
        if chat_id is not None:
            data["chat"] = chat_id
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    if stream is None or not stream.printed:
        print(answer.answer)
    elif stream.printed.strip() != answer.answer.strip():  # the citation check changed it
        print("\n\nChecked answer:")
        print(answer.answer)
    else:
        print()
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            where = source_place(c.document, c.page, c.section)
            print(f"  [{c.n}] {where}: {' '.join((c.quote or c.text).split())[:300]}")
    if answer.outcome is not AnswerOutcome.ANSWERED and answer.nearest:
        print("\nNearest passages in your documents:")
        for h in answer.nearest:
            opening = " ".join(without_page_furniture(h.text).split())
            print(f"  - {source_place(h.document, h.page)}: {opening[:120]}")
    if answer.notice:
        print(f"\nNote: {answer.notice}")
    print(
        f"\n(model: {answer.model}"
        + (f", adapter: {answer.adapter}" if answer.adapter else "")
        + (f", chat: {chat_id}" if chat_id is not None else "")
        + ")"
    )
    return EXIT_OK


def _answer(
    request: AskRequest, stream: TerminalStream | None, secret: str | None = None
) -> tuple[Answer, str | None]:
    """The answer and the saved chat it joined (None: not saved). The model and encoders load
    in this process and go with it (a warm background helper saved ~9 % of a call, far from
    what its complexity would need: bench/RESULTS.md)."""
    from kbdesk.core.assistant import Assistant, ModelCache
    from kbdesk.core.kb import KnowledgeBase
    from kbdesk.core.paths import AppPaths

    settings = request.settings
    models = ModelCache(AppPaths.resolve(request.data_dir).model_dirs)
    try:
        with KnowledgeBase.open(
            request.data_dir, settings.collection, create=not request.use_rag, secret=secret
        ) as kb:
            reply = Assistant(kb, settings, models).ask(
                request.question,
                chat=request.chat,
                use_rag=request.use_rag,
                documents=request.documents,
                on_token=stream,
            )
    finally:
        models.close()
    return reply.answer, reply.chat_id
