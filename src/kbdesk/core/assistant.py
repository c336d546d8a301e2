"""Question answering for one collection, end to end: the user's model, adapter and answer
settings, the warm model, chats and their history, and saving each turn.

The window and `kbdesk ask` are thin callers of this module, so the same settings give the same
Answer in both. Search, import and listing stay with KnowledgeBase.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kbdesk.core.errors import KbdeskError
from kbdesk.core.generate.answerer import Answerer, AskOptions, open_host
from kbdesk.core.generate.host import LlamaHost
from kbdesk.core.generate.models import ModelFolders
from kbdesk.core.generate.prompt import NOT_IN_DOCUMENTS
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.settings import Settings
from kbdesk.core.types import Answer, Progress, Stage

log = logging.getLogger(__name__)

NEW_CHAT = "new"  # ask(chat=NEW_CHAT) starts a saved chat


@dataclass(frozen=True)
class Reply:
    answer: Answer
    chat_id: str | None  # the saved chat this turn belongs to; None when not saved


class SentinelFilter:
    """Passes streamed text on, but holds back the model's NOT_IN_DOCUMENTS reply, so no
    reader ever sees the internal marker (the final Answer says it in words)."""

    def __init__(self, sink: Callable[[str], None]):
        self.sink = sink
        self.held = ""
        self.passing = False

    def __call__(self, piece: str) -> None:
        if self.passing:
            self.sink(piece)
            return
        self.held += piece
        head = self.held.lstrip()
        if head and not (NOT_IN_DOCUMENTS.startswith(head) or head.startswith(NOT_IN_DOCUMENTS)):
            self.passing = True
            self.sink(self.held)


class ModelCache:
    """One warm llama.cpp host for the chosen model, replaced when the choice changes.

    Shared by every collection of a window (a 1 GB model is loaded once, not per collection);
    safe to call from worker threads.
    """

    def __init__(self, folders: ModelFolders):
        self.folders = folders
        self._host: LlamaHost | None = None
        self._key: str | None = None
        self._lock = threading.Lock()

    def host(
        self,
        model: str | None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
    ) -> LlamaHost:
        """The loaded host for `model` (None: the default model), loading it if needed."""
        key = model or ""
        with self._lock:
            if self._host is not None and self._key != key:
                self._host.close()
                self._host = None
            if self._host is None:
                self._host = open_host(self.folders, model)
                self._key = key
            host = self._host
        host.load(progress, cancel)
        return host

    def close(self) -> None:
        with self._lock:
            if self._host is not None:
                self._host.close()
                self._host = None


class Assistant:
    """Answers questions over one KnowledgeBase with the model, adapter, passages and
    temperature of `settings` (callers apply their own overrides first)."""

    def __init__(self, kb, settings: Settings, models: ModelCache):
        self.kb = kb
        self.settings = settings.validated()
        self.models = models
        self.chats = kb.chats()

    def options(self, *, use_rag: bool = True, documents: tuple[str, ...] = ()) -> AskOptions:
        return AskOptions(
            passages=self.settings.passages,
            temperature=self.settings.temperature,
            evidence_first=self.settings.evidence_first,
            adapter=self.settings.adapter,
            use_rag=use_rag,
            documents=documents,
        )

    def ask(
        self,
        question: str,
        *,
        chat: str | None = None,
        use_rag: bool = True,
        documents: tuple[str, ...] = (),
        on_token: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        progress: ProgressFn = no_progress,
    ) -> Reply:
        """Answer `question`. `chat`: None answers once and saves nothing; NEW_CHAT starts a
        saved chat; a chat id continues that chat, its earlier turns serving as history."""
        options = self.options(use_rag=use_rag, documents=documents)
        if on_token is not None:
            on_token = SentinelFilter(on_token)
        chat_id = self.chats.new() if chat == NEW_CHAT else chat
        history = self.chats.history(chat) if chat is not None and chat != NEW_CHAT else []
        host = self.models.host(self.settings.model, progress, cancel)
        progress(Progress(Stage.SEARCHING))
        answer = Answerer(self.kb, host).ask(
            question,
            history=history,
            options=options,
            on_token=on_token,
            cancel=cancel,
            progress=progress,
        )
        if chat_id is None or not answer.question:  # an empty question is not worth a chat
            return Reply(answer, None)
        try:
            self.chats.append(chat_id, answer)
        except (KbdeskError, OSError) as exc:
            log.warning("the chat could not be saved: %s", exc)
            return Reply(answer, None)
        return Reply(answer, chat_id)
