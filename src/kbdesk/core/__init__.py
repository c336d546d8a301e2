"""The Qt-free core of kbdesk: ingest, store, embed, search (and later generate, tune, evaluate)."""
