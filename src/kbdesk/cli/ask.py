"""`kbdesk ask`: a thin caller of the core's Assistant, streaming to a terminal or printing JSON."""

from __future__ import annotations

import json
import sys

from kbdesk.cli.ask_request import AskRequest
from kbdesk.cli.common import EXIT_OK, settings_for
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

    from kbdesk.cli import helper
    from kbdesk.core.paths import AppPaths

    overrides = {
        "model": args.model,
        "adapter": args.adapter,
        "passages": args.passages,
        "temperature": args.temperature,
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
    result = None
    if not args.no_helper and _collection_exists(request):
        result = helper.ask(request, on_token=stream)
    if result is None:
        if stream is not None and stream.printed:  # the helper stopped halfway: start over
            print("\n\n(answering again)\n", flush=True)
            stream = TerminalStream()
        result = _answer_here(request, stream)
    answer, chat_id = result
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
            where = source_place(c.document, c.page)
            print(f"  [{c.n}] {where}: {' '.join((c.quote or c.text).split())[:300]}")
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


def _collection_exists(request: AskRequest) -> bool:
    """Whether the collection is there to ask (if not, this process says so at once)."""
    if not request.use_rag:
        return True
    from kbdesk.core.paths import AppPaths

    try:
        folder = AppPaths.resolve(request.data_dir).collection_dir(request.settings.collection)
    except Exception:
        return False
    return (folder / "manifest.json").is_file()


def _answer_here(request: AskRequest, stream: TerminalStream | None) -> tuple[Answer, str | None]:
    """The answer from this process: the model and encoders load here and go with it."""
    from kbdesk.cli.ask_request import answer
    from kbdesk.core.assistant import ModelCache
    from kbdesk.core.paths import AppPaths

    models = ModelCache(AppPaths.resolve(request.data_dir).model_dirs)
    try:
        return answer(request, models, on_token=stream)
    finally:
        models.close()
