"""Frozen records that cross module and thread boundaries: segments, chunks, documents, hits, progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

BBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, origin top-left


@dataclass(frozen=True)
class Segment:
    """One line (PDF) or paragraph (other formats) of extracted text, in reading order.

    `page` is 1-based for paginated formats and None otherwise. `bbox` is the line's box on
    that page (PDF only). `para_end` marks the last segment of a paragraph, so the chunker can
    prefer paragraph boundaries.
    """

    text: str
    page: int | None = None
    bbox: BBox | None = None
    para_end: bool = True


@dataclass(frozen=True)
class ParsedDocument:
    """A loader's output: the whole document as ordered segments, plus what it learned."""

    path: str
    kind: str  # "pdf", "docx", "txt", "md", "html", "epub"
    segments: tuple[Segment, ...]
    pages: int = 0  # 0 for non-paginated formats
    title: str | None = None
    ocr_pages: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it has a database id. Never spans two pages or two documents.

    `char_start`/`char_end` index into the section text: the page's text for PDFs (segments of
    the page joined by the chunker's rules), the whole document's text otherwise.
    """

    ordinal: int
    text: str
    page: int | None
    char_start: int
    char_end: int
    boxes: tuple[BBox, ...] = ()
    section: str = ""  # the headings it sits under, outermost first, joined by SECTION_JOIN


@dataclass(frozen=True)
class Chunk:
    id: int
    doc_id: int
    ordinal: int
    page: int | None
    char_start: int
    char_end: int
    text: str
    boxes: tuple[BBox, ...] = ()


class DocStatus(StrEnum):
    """Where a document is in its import; stored as the string in the catalog."""

    QUEUED = "queued"
    PARSING = "parsing"
    EMBEDDING = "embedding"
    READY = "ready"
    NEEDS_OCR = "needs_ocr"
    FAILED = "failed"


@dataclass(frozen=True)
class Document:
    id: int
    path: str
    name: str
    kind: str
    sha256: str
    size: int
    mtime: float
    status: DocStatus
    error: str | None
    pages: int
    chunks: int
    added_at: float
    updated_at: float
    chunking: int = 1  # the chunker version that read it (ingest/chunking.CHUNKING_VERSION)


@dataclass(frozen=True)
class Hit:
    """One search result. `rank` is 1-based; `score` is mode-specific (higher is better)."""

    rank: int
    score: float
    chunk_id: int
    doc_id: int
    document: str  # file name
    path: str
    page: int | None
    text: str
    ordinal: int = 0
    boxes: tuple[BBox, ...] = ()
    context_before: str = ""
    context_after: str = ""
    # What the answer prompt shows of the passage, when not all of it (evidence_windows.py);
    # `text` stays whole for citations and highlighting.
    excerpt: str = ""
    reading: tuple[tuple[int, int], ...] = ()  # the excerpt's sentences: (start, end) in `text`
    section: str = ""  # the passage's section path, when its document has numbered headings

    def to_json(self) -> dict:
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "document": self.document,
            "path": self.path,
            "page": self.page,
            "section": self.section,
            "text": self.text,
            "chunk_id": self.chunk_id,
        }


class Stage(StrEnum):
    """What a long job is doing; the window words each for its progress line."""

    SCANNING = "scanning"  # finding the files of an import
    PARSING = "parsing"
    EMBEDDING = "embedding"
    INDEXING = "indexing"
    DONE = "done"
    SUMMARISING = "summarising"  # reading a whole document for a summary
    LOADING_MODEL = "loading_model"  # reading the answer model from disk
    SEARCHING = "searching"  # the model is ready; retrieval and the answer follow
    EVALUATING = "evaluating"  # answering held-out questions, one arm after another
    ENCRYPTING = "encrypting"  # encrypting an existing collection, step by step
    UPLOADING = "uploading"  # copying a collection's documents to a shared server


@dataclass(frozen=True)
class Progress:
    """A snapshot of a long job. `total` None means unknown."""

    stage: Stage
    done: int = 0
    total: int | None = None
    item: str | None = None  # current file
    message: str | None = None
    item_fraction: float | None = None  # share of the current file's own work done, 0..1


class FileStatus(StrEnum):
    """What one import or removal did to one file."""

    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    REMOVED = "removed"


@dataclass(frozen=True)
class FileResult:
    path: str
    status: FileStatus
    reason: str | None = None
    code: str | None = None  # an ErrorCode for failures (kept a str: JSON and the catalog)
    pages: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks whose vectors were computed (not reused)


@dataclass(frozen=True)
class ImportReport:
    results: tuple[FileResult, ...] = field(default_factory=tuple)
    cancelled: bool = False

    def by_status(self, status: FileStatus) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[FileResult]:
        return self.by_status(FileStatus.FAILED)

    @property
    def embedded(self) -> int:
        return sum(r.embedded for r in self.results)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled


def source_place(document: str, page: int | None, section: str = "") -> str:
    """Where a passage is, as people read it: "lease.pdf, page 3" (no page for unpaged files),
    then its section path when it has one ("lease.pdf, page 3, 4. Rent › 4.2 Late fee")."""
    return document + (f", page {page}" if page else "") + (f", {section}" if section else "")


@dataclass(frozen=True)
class Citation:
    """What an answer's [n] marker points at: a passage on a page of a document."""

    n: int
    chunk_id: int
    doc_id: int
    document: str
    path: str
    page: int | None
    text: str
    boxes: tuple[BBox, ...] = ()
    # The sentence(s) of `text` that support the claims citing it, verbatim (non-adjacent ones
    # joined by " … "), and where each is in `text`; empty in chats saved before quotes existed.
    quote: str = ""
    quote_spans: tuple[tuple[int, int], ...] = ()
    section: str = ""  # the passage's section path ("4. Obligations › 4.2 Notices"), if any

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "document": self.document,
            "path": self.path,
            "page": self.page,
            "section": self.section,
            "text": self.text,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Evidence:
    """A sentence the model chose, before answering, as stating the answer."""

    document: str
    page: int | None
    chunk_id: int
    text: str
    span: tuple[int, int]  # where the sentence is in its passage

    def to_json(self) -> dict:
        return {"document": self.document, "page": self.page, "sentence": self.text}


@dataclass(frozen=True)
class SentenceCheck:
    """One answer sentence after checking it against the cited passages."""

    text: str
    citations: tuple[int, ...]  # the [n] it carries after correction
    supported: bool
    score: float  # best support score over the sources, 0..1
    corrected: bool = False  # a citation was added, moved or dropped


class AnswerOutcome(StrEnum):
    """What became of a question; the window styles each one differently."""

    ANSWERED = "answered"  # the answer rests on cited passages the checker verified
    UNVERIFIED = "unverified"  # the model answered, but no sentence is supported by its citations
    NOT_IN_DOCUMENTS = "not_in_documents"  # the documents do not contain the answer
    REFUSED = "refused"  # not asked at all: empty or over-long question, no documents, no room
    WITHOUT_DOCUMENTS = "without_documents"  # answered by the model alone, as asked (no RAG)
    QUOTED = "quoted"  # the model declined, but one passage sentence matches closely: quoted


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    outcome: AnswerOutcome
    citations: tuple[Citation, ...] = ()
    sentences: tuple[SentenceCheck, ...] = ()
    nearest: tuple[Hit, ...] = ()  # offered when the answer does not rest on the documents
    model: str = ""
    adapter: str | None = None
    notice: str | None = None  # something the user should know (passages left out, ...)
    evidence: tuple[Evidence, ...] = ()  # the sentences chosen before answering, if any

    @property
    def supported(self) -> bool:
        """The command-line contract's yes/no: the answer rests on verified citations."""
        return self.outcome is AnswerOutcome.ANSWERED

    def to_json(self) -> dict:
        return {
            "answer": self.answer,
            "outcome": self.outcome.value,
            "citations": [c.to_json() for c in self.citations],
            "supported": self.supported,
            "model": self.model,
            "adapter": self.adapter,  # None when no adapter shaped the answer
            "evidence": [e.to_json() for e in self.evidence],
        }
