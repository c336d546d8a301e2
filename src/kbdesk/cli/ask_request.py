"""One `kbdesk ask` as data, and the one function that answers it, in this process or in the
warm helper (cli/helper_server.py): the same code either way, so the same Answer comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kbdesk.core.settings import Settings
from kbdesk.core.types import Answer

if TYPE_CHECKING:
    from kbdesk.core.assistant import ModelCache
    from kbdesk.core.jobs import CancelToken


@dataclass(frozen=True)
class AskRequest:
    """What to answer: everything `kbdesk ask` read from its flags and the saved settings."""

    data_dir: str  # resolved and absolute: a helper may run with another working folder
    settings: Settings  # the saved settings with the command's flags applied
    question: str
    chat: str | None = None
    use_rag: bool = True
    documents: tuple[str, ...] = ()


def answer(
    request: AskRequest,
    models: ModelCache,
    on_token: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Answer, str | None]:
    """The answer and the saved chat it joined (None: not saved). Opens the collection afresh,
    so an import made meanwhile by another process is always seen."""
    from kbdesk.core.assistant import Assistant
    from kbdesk.core.kb import KnowledgeBase

    settings = request.settings
    with KnowledgeBase.open(
        request.data_dir, settings.collection, create=not request.use_rag
    ) as kb:
        reply = Assistant(kb, settings, models).ask(
            request.question,
            chat=request.chat,
            use_rag=request.use_rag,
            documents=request.documents,
            on_token=on_token,
            cancel=cancel,
        )
    return reply.answer, reply.chat_id
