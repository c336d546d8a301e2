"""The KbdeskError hierarchy: every failure a user can see, with a message that says what to do."""

from __future__ import annotations


class KbdeskError(Exception):
    """Base of all expected failures. `str(err)` is a complete, user-facing sentence."""

    code = "error"

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} {hint}")


class InvalidSetting(KbdeskError):
    code = "invalid_setting"


class UnsupportedFile(KbdeskError):
    """The file type is not one kbdesk can read."""

    code = "unsupported"


class DocumentUnreadable(KbdeskError):
    """The file claims a supported type but cannot be read (corrupt, truncated, wrong content)."""

    code = "unreadable"


class DocumentEncrypted(DocumentUnreadable):
    code = "encrypted"


class EmptyDocument(DocumentUnreadable):
    code = "empty"


class NeedsOCR(DocumentUnreadable):
    """Pages are images with no text layer and OCR is unavailable or turned off."""

    code = "needs_ocr"


class CollectionError(KbdeskError):
    code = "collection"


class CollectionBusy(CollectionError):
    code = "busy"


class EmbedderMismatch(CollectionError):
    code = "embedder_mismatch"


class ModelMissing(KbdeskError):
    code = "model_missing"


class UnsupportedCpu(KbdeskError):
    """The processor lacks instructions the bundled llama.cpp was compiled for."""

    code = "unsupported_cpu"


class Cancelled(KbdeskError):
    """A long job stopped because the user asked it to; never shown as an error."""

    code = "cancelled"

    def __init__(self, message: str = "Cancelled."):
        super().__init__(message)
