"""The KbdeskError hierarchy: every failure a user can see, with a code and a way out.

`hint` is advice that reads the same everywhere ("Save it as UTF-8"). `remedy` names a way out
whose wording depends on who reads it (a window user clicks, a terminal user types); the CLI
and the window word it from kbdesk.core.messages, so the core never names a command or a menu.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    ERROR = "error"
    INVALID_SETTING = "invalid_setting"
    UNSUPPORTED = "unsupported"
    UNREADABLE = "unreadable"
    ENCRYPTED = "encrypted"
    EMPTY = "empty"
    NEEDS_OCR = "needs_ocr"
    NOT_FOUND = "not_found"  # a file named for import or removal is not there
    COLLECTION = "collection"
    NO_SUCH_COLLECTION = "no_such_collection"
    COLLECTION_EXISTS = "collection_exists"
    INVALID_COLLECTION_NAME = "invalid_collection_name"
    BUSY = "busy"
    EMBEDDER_MISMATCH = "embedder_mismatch"
    MODEL_MISSING = "model_missing"
    UNSUPPORTED_CPU = "unsupported_cpu"
    PROMPT_TOO_LONG = "prompt_too_long"
    CANCELLED = "cancelled"
    WRONG_KEY = "wrong_key"  # a passphrase or recovery key that does not unlock the collection
    SEAL_BROKEN = "seal_broken"  # an encrypted file that is damaged, cut short or changed
    LOCKED = "locked"  # an encrypted collection opened without its key
    SERVER = "server"  # a shared server refused or failed a request
    SERVER_UNREACHABLE = "server_unreachable"  # no answer from the shared server
    ACCESS_DENIED = "access_denied"  # the shared server does not let this login do that


class Remedy(StrEnum):
    """A way out that the window and the command line each word for their own user."""

    RESTORE_BUILTIN_MODELS = "restore_builtin_models"  # a bundled model is missing or damaged
    CHOOSE_ANSWER_MODEL = "choose_answer_model"  # the chosen model cannot be used
    ADD_MODEL_FILE = "add_model_file"  # a model name that is not registered
    CHOOSE_ADAPTER = "choose_adapter"  # the chosen adapter cannot be used
    NEWER_COMPUTER = "newer_computer"  # the processor is below the llama.cpp build's floor
    UNLOCK_COLLECTION = "unlock_collection"  # an encrypted collection opened without its key


class KbdeskError(Exception):
    """Base of all expected failures. `str(err)` is the message and its audience-free hint."""

    code: ErrorCode = ErrorCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None, remedy: Remedy | None = None):
        self.message = message
        self.hint = hint
        self.remedy = remedy
        super().__init__(message if not hint else f"{message} {hint}")


class InvalidSetting(KbdeskError):
    code = ErrorCode.INVALID_SETTING


class UnsupportedFile(KbdeskError):
    """The file type is not one kbdesk can read."""

    code = ErrorCode.UNSUPPORTED


class DocumentUnreadable(KbdeskError):
    """The file claims a supported type but cannot be read (corrupt, truncated, wrong content)."""

    code = ErrorCode.UNREADABLE


class DocumentEncrypted(DocumentUnreadable):
    code = ErrorCode.ENCRYPTED


class EmptyDocument(DocumentUnreadable):
    code = ErrorCode.EMPTY


class NeedsOCR(DocumentUnreadable):
    """Pages are images with no text layer and OCR is unavailable or turned off."""

    code = ErrorCode.NEEDS_OCR


class CollectionError(KbdeskError):
    code = ErrorCode.COLLECTION


class CollectionBusy(CollectionError):
    code = ErrorCode.BUSY


class EmbedderMismatch(CollectionError):
    code = ErrorCode.EMBEDDER_MISMATCH


class ModelMissing(KbdeskError):
    code = ErrorCode.MODEL_MISSING


class UnsupportedCpu(KbdeskError):
    """The processor lacks instructions the bundled llama.cpp was compiled for."""

    code = ErrorCode.UNSUPPORTED_CPU


class Cancelled(KbdeskError):
    """A long job stopped because the user asked it to; never shown as an error."""

    code = ErrorCode.CANCELLED

    def __init__(self, message: str = "Cancelled."):
        super().__init__(message)


class WrongKey(CollectionError):
    """The passphrase or recovery key does not unlock this collection (nothing was changed)."""

    code = ErrorCode.WRONG_KEY


class CollectionLocked(CollectionError):
    """An encrypted collection was opened without its key: it must be unlocked first."""

    code = ErrorCode.LOCKED


class SealBroken(CollectionError):
    """An encrypted file of a collection is damaged, cut short or was changed."""

    code = ErrorCode.SEAL_BROKEN


class ServerError(KbdeskError):
    """The shared server (PostgreSQL + pgvector) refused or failed a request."""

    code = ErrorCode.SERVER


class ServerUnreachable(ServerError):
    """The shared server did not answer: local collections are unaffected."""

    code = ErrorCode.SERVER_UNREACHABLE


class AccessDenied(ServerError):
    """The shared server does not let this login read or change that collection."""

    code = ErrorCode.ACCESS_DENIED
