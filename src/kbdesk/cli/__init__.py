"""The `kbdesk` command line: ingest, search, ask, list, remove, models, demo; no command opens
the window. Commands honour the window's saved settings (collection, model, adapter, passages,
temperature, OCR, embedder for new collections); their flags override them."""

from kbdesk.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
