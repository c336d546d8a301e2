"""What the citation viewer shows, computed without Qt: rendered PDF pages and located passages."""

from __future__ import annotations

from kbdesk.core.view.pages import (
    PixelRect,
    RenderedPage,
    document_text,
    find_in_document,
    find_passage,
    page_count,
    page_size,
    render_page,
)
from kbdesk.core.view.quote_place import quote_boxes

__all__ = [
    "PixelRect",
    "RenderedPage",
    "document_text",
    "find_in_document",
    "find_passage",
    "page_count",
    "page_size",
    "quote_boxes",
    "render_page",
]
