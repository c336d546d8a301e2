"""The one lock around MuPDF: PyMuPDF is not thread-safe, and the importer and the viewer share it."""

from __future__ import annotations

import threading

# Re-entrant so a caller holding it may call helpers that take it again. Held per page, never
# for a whole document, so a viewer render waits at most one page of an import.
MUPDF_LOCK = threading.RLock()
