"""Decide a file's format from its extension, checked against its actual content (magic bytes)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from kbdesk.core.errors import DocumentUnreadable, EmptyDocument, UnsupportedFile

# suffix -> kind; the order is the order shown to users in error messages
_KINDS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".epub": "epub",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_KINDS)

_HEAD_BYTES = 1024
EPUB_MIMETYPE = b"application/epub+zip"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

# (prefix, description); checked in order, so longer/more specific prefixes come first
_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    # Word 97-2003 files and password-protected Office files are both OLE2 containers
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old-style Office (.doc/.xls) or password-protected Office file",
    ),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg audio/video file"),
)


def supported_list() -> str:
    return ", ".join(_KINDS)


def describe_content(head: bytes) -> str | None:
    """A human description of what the leading bytes look like, or None if unrecognised."""
    if head.startswith(_ZIP_MAGICS):
        return "a ZIP archive"
    if head[4:8] == b"ftyp":
        return "a video or HEIC image file"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    for magic, desc in _MAGICS:
        if head.startswith(magic):
            return desc
    return None


def read_head(path: Path, n: int = _HEAD_BYTES) -> bytes:
    """The first n bytes, with OS failures turned into user-facing errors."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as exc:
        raise unreadable_os_error(path, exc) from None


def unreadable_os_error(path: Path, exc: OSError) -> DocumentUnreadable:
    name = path.name
    other = exc.filename and Path(str(exc.filename)).name != name
    if other:  # a file the reader needed is missing or locked, not the document itself
        reason = exc.strerror or type(exc).__name__
        return DocumentUnreadable(f"cannot read {name}: {reason}: {exc.filename}")
    if isinstance(exc, PermissionError):
        return DocumentUnreadable(f"cannot read {name}: permission denied")
    if isinstance(exc, FileNotFoundError):
        return DocumentUnreadable(f"cannot read {name}: the file does not exist")
    if isinstance(exc, IsADirectoryError):
        return DocumentUnreadable(f"cannot read {name}: it is a folder, not a file")
    reason = exc.strerror or type(exc).__name__
    return DocumentUnreadable(f"cannot read {name}: {reason}")


def detect_kind(path: str | Path) -> str:
    """The loader kind for a file ("pdf", "docx", "txt", "md", "html", "epub"), or raise."""
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in _KINDS:
        what = f"'{suffix}' files are" if suffix else "files without an extension are"
        raise UnsupportedFile(
            f"{name}: {what} not supported.", hint=f"Supported types: {supported_list()}."
        )
    kind = _KINDS[suffix]
    if path.is_dir():
        raise DocumentUnreadable(f"cannot read {name}: it is a folder, not a file")
    head = read_head(path)
    if not head:
        raise EmptyDocument(f"{name} is empty (0 bytes).")
    if kind == "pdf":
        _check_pdf(name, head)
    elif kind in ("docx", "epub"):
        _check_zip(name, kind, head)
        if kind == "epub":
            _check_epub_mimetype(path)
    return kind


def _not_a(name: str, what: str, head: bytes, fallback: str) -> DocumentUnreadable:
    desc = describe_content(head)
    if desc:
        return DocumentUnreadable(f"{name} is not {what}: its content is {desc}.")
    return DocumentUnreadable(f"{name} is not {what}: {fallback}")


def _check_pdf(name: str, head: bytes) -> None:
    # The spec lets junk precede the header; readers accept it within the first 1024 bytes.
    if b"%PDF" in head:
        return
    raise _not_a(
        name,
        "a PDF",
        head,
        "it does not contain a PDF header, so it is damaged or another kind of file.",
    )


def _check_zip(name: str, kind: str, head: bytes) -> None:
    if head.startswith(_ZIP_MAGICS):
        return
    what = "a Word (.docx) document" if kind == "docx" else "an EPUB book"
    if kind == "docx" and head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocumentUnreadable(
            f"{name} is not a .docx file: it is either password-protected or an old-style "
            "Word (.doc) file.",
            hint="Remove the password or save it as .docx in Word, then import it again.",
        )
    raise _not_a(name, what, head, "it is not a ZIP container, so it is damaged or mislabelled.")


def _check_epub_mimetype(path: Path) -> None:
    name = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                mimetype = zf.read("mimetype").strip()
                if mimetype != EPUB_MIMETYPE:
                    shown = mimetype[:60].decode("ascii", "replace")
                    raise DocumentUnreadable(
                        f"{name} is not an EPUB book: its mimetype is '{shown}'."
                    )
            elif "META-INF/container.xml" not in names:
                raise DocumentUnreadable(
                    f"{name} is not an EPUB book: it has neither a mimetype nor "
                    "META-INF/container.xml."
                )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise DocumentUnreadable(f"{name} is a damaged EPUB (ZIP) file: {exc}.") from None
    except OSError as exc:
        raise unreadable_os_error(path, exc) from None
