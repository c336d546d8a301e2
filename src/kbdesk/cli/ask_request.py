"""One `kbdesk ask` as data: everything it read from its flags and the saved settings."""

from __future__ import annotations

from dataclasses import dataclass

from kbdesk.core.settings import Settings


@dataclass(frozen=True)
class AskRequest:
    """What to answer: everything `kbdesk ask` read from its flags and the saved settings."""

    data_dir: str  # resolved and absolute
    settings: Settings  # the saved settings with the command's flags applied
    question: str
    chat: str | None = None
    use_rag: bool = True
    documents: tuple[str, ...] = ()
