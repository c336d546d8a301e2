"""Validate the retrieval benchmark corpus and its questions.

Usage::

    .venv/bin/python bench/corpus/check.py [OUT_DIR]

Renders every document (into OUT_DIR, or a temporary folder), re-extracts the PDFs with PyMuPDF,
and checks that:

* documents and questions follow the schema (see README.md) and reference each other correctly;
* every rendered PDF page contains the full text of its corpus page (nothing lost to overflow
  or to glyphs missing from the built-in fonts), and the .md/.txt files round-trip exactly;
* every fact of every answerable question occurs verbatim on the gold page of the gold document
  (whitespace normalised; for Chinese documents all whitespace is removed on both sides);
* at least one fact of each answerable PDF question occurs on no other page of its document
  (so the gold page is unambiguous); facts that also occur elsewhere are listed as notes;
* unanswerable questions have no gold location, and their probe terms occur nowhere.

It prints counts by language and type. Exit status 0 when valid, 1 otherwise.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

try:
    from .build import build, is_pdf, load_docs, load_questions, page_text, text_file_content
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.corpus.build import (
        build,
        is_pdf,
        load_docs,
        load_questions,
        page_text,
        text_file_content,
    )

TYPES = ("paraphrase", "exact", "crosslingual", "unanswerable")
LANGS = ("en", "zh")
QUESTION_KEYS = {"id", "question", "language", "doc", "page", "answer", "facts", "type"}
DOC_KEYS = {"id", "title", "language", "filename", "pages"}

# Terms that must not occur anywhere in the corpus, so that the unanswerable questions stay
# unanswerable when documents are edited (case-insensitive). Keyed by question id.
UNANSWERABLE_PROBES: dict[str, list[str]] = {
    "q095": ["signage", "exterior sign"],
    "q096": ["SOC 2", "SOC2", "penetration test"],
    "q097": ["paternity"],
    "q098": ["metoprolol", "美托洛尔"],
    "q099": ["ventricular thrombus", "left ventricular", "心室血栓"],
    "q100": ["hip replacement", "髋"],
    "q101": ["liquidated damages"],
    "q102": ["visitor", "sign-in"],
    "q103": ["停车", "车位"],
    "q104": ["股票", "期权", "stock option"],
    "q105": ["妊娠期糖尿病患者的胰岛素", "妊娠期胰岛素"],
    "q106": ["怀孕", "备孕"],
    "q107": ["备份"],
    "q108": ["疫苗接种异常反应应", "疫苗接种异常反应报告时限"],
    "q109": ["律师费"],
}


def norm(text: str, lang: str) -> str:
    """Whitespace normalisation used for all comparisons."""
    if lang == "zh":
        return re.sub(r"\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def extract_pages(path: Path) -> list[str]:
    """Plain text of each page of a rendered file (one element for .md/.txt)."""
    if path.suffix.lower() != ".pdf":
        return [path.read_text(encoding="utf-8")]
    import pymupdf

    with pymupdf.open(path) as pdf:
        return [page.get_text() for page in pdf]


def _check_docs(docs: list[dict], errors: list[str]) -> None:
    seen_files = set()
    for d in docs:
        where = f"doc {d.get('id')!r}"
        if set(d) != DOC_KEYS:
            errors.append(f"{where}: keys {sorted(d)} != {sorted(DOC_KEYS)}")
            continue
        if d["language"] not in LANGS:
            errors.append(f"{where}: bad language {d['language']!r}")
        if d["filename"] in seen_files:
            errors.append(f"{where}: duplicate filename {d['filename']}")
        seen_files.add(d["filename"])
        if Path(d["filename"]).suffix.lower() not in {".pdf", ".md", ".txt"}:
            errors.append(f"{where}: unsupported file type {d['filename']}")
        if not 3 <= len(d["pages"]) <= 8:
            errors.append(f"{where}: {len(d['pages'])} pages (want 3-8)")
        for i, page in enumerate(d["pages"], 1):
            if not page or not all(isinstance(p, str) and p.strip() for p in page):
                errors.append(f"{where} page {i}: empty page or paragraph")
            if d["language"] == "en":
                try:
                    page_text(page).encode("latin-1")
                except UnicodeEncodeError as exc:
                    errors.append(f"{where} page {i}: character outside Latin-1 ({exc})")


def _check_rendering(docs, paths, extracted, errors: list[str]) -> None:
    for d, path in zip(docs, paths, strict=True):
        pages = extracted[d["id"]]
        if is_pdf(d):
            if len(pages) != len(d["pages"]):
                errors.append(f"{d['id']}: {len(pages)} PDF pages, corpus has {len(d['pages'])}")
                continue
            for i, (src, got) in enumerate(zip(d["pages"], pages, strict=True), 1):
                if norm(page_text(src), d["language"]) not in norm(got, d["language"]):
                    errors.append(f"{d['id']} page {i}: rendered text does not round-trip")
            import pymupdf

            with pymupdf.open(path) as pdf:
                if pdf.metadata.get("title") != d["title"]:
                    errors.append(f"{d['id']}: PDF title metadata missing or wrong")
        elif pages[0] != text_file_content(d):
            errors.append(f"{d['id']}: text file content does not round-trip")


def _check_questions(questions, docs_by_id, extracted, errors, notes) -> dict:
    stats = {"corpus_unique": 0, "answerable": 0}
    ids = [q.get("id") for q in questions]
    if len(set(ids)) != len(ids):
        errors.append("duplicate question ids")
    all_pages = [
        (doc_id, i, text) for doc_id, pages in extracted.items() for i, text in enumerate(pages, 1)
    ]
    for q in questions:
        where = f"{q.get('id')}"
        if set(q) != QUESTION_KEYS:
            errors.append(f"{where}: keys {sorted(q)} != {sorted(QUESTION_KEYS)}")
            continue
        if q["type"] not in TYPES or q["language"] not in LANGS:
            errors.append(f"{where}: bad type/language {q['type']!r}/{q['language']!r}")
            continue
        if not q["question"].strip():
            errors.append(f"{where}: empty question")
        if q["type"] == "unanswerable":
            if (
                q["doc"] is not None
                or q["page"] is not None
                or q["answer"] is not None
                or q["facts"]
            ):
                errors.append(f"{where}: unanswerable must have doc/page/answer null, facts []")
            for term in UNANSWERABLE_PROBES.get(q["id"], []):
                for doc_id, i, text in all_pages:
                    if term.lower() in text.lower():
                        errors.append(f"{where}: probe {term!r} occurs in {doc_id} page {i}")
            if q["id"] not in UNANSWERABLE_PROBES:
                notes.append(f"{where}: unanswerable question without probe terms")
            continue
        doc = docs_by_id.get(q["doc"])
        if doc is None:
            errors.append(f"{where}: unknown doc {q['doc']!r}")
            continue
        if not q["answer"] or not q["facts"] or not all(f.strip() for f in q["facts"]):
            errors.append(f"{where}: answerable question needs an answer and non-empty facts")
            continue
        lang = doc["language"]
        crosses = q["language"] != lang
        if crosses != (q["type"] == "crosslingual"):
            errors.append(f"{where}: type {q['type']} but question {q['language']}, doc {lang}")
        pages = extracted[doc["id"]]
        if is_pdf(doc):
            if not isinstance(q["page"], int) or not 1 <= q["page"] <= len(pages):
                errors.append(f"{where}: bad page {q['page']!r} for {doc['id']}")
                continue
            gold = pages[q["page"] - 1]
            others = [t for i, t in enumerate(pages, 1) if i != q["page"]]
        else:
            if q["page"] is not None:
                errors.append(f"{where}: page must be null for non-PDF {doc['filename']}")
                continue
            gold, others = pages[0], []
        gold_n = norm(gold, lang)
        others_n = [norm(t, lang) for t in others]
        unique_in_doc = []
        for fact in q["facts"]:
            f = norm(fact, lang)
            if f not in gold_n:
                errors.append(f"{where}: fact {fact!r} not on {doc['id']} page {q['page']}")
                continue
            elsewhere = any(f in t for t in others_n)
            unique_in_doc.append(not elsewhere)
            if elsewhere:
                notes.append(f"{where}: fact {fact!r} also on another page of {doc['id']}")
        if others and unique_in_doc and not any(unique_in_doc):
            errors.append(f"{where}: no fact is unique to page {q['page']} of {doc['id']}")
        # Corpus-wide uniqueness (ideal, not required).
        stats["answerable"] += 1
        rest = [
            norm(t, docs_by_id[d]["language"])
            for d, i, t in all_pages
            if not (d == doc["id"] and (i == q["page"] or q["page"] is None))
        ]
        if any(all(norm(f, lang) not in t for t in rest) for f in q["facts"]):
            stats["corpus_unique"] += 1
        else:
            notes.append(f"{where}: every fact also occurs elsewhere in the corpus")
    return stats


def check(out_dir: Path | str | None = None, verbose: bool = True) -> list[str]:
    """Validate the corpus; return the list of errors (empty when valid)."""
    docs, questions = load_docs(), load_questions()
    errors: list[str] = []
    notes: list[str] = []
    _check_docs(docs, errors)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(out_dir) if out_dir is not None else Path(tmp)
        paths = build(target, docs)
        extracted = {d["id"]: extract_pages(p) for d, p in zip(docs, paths, strict=True)}
        _check_rendering(docs, paths, extracted, errors)
        sizes = {d["id"]: p.stat().st_size for d, p in zip(docs, paths, strict=True)}
    docs_by_id = {d["id"]: d for d in docs}
    stats = _check_questions(questions, docs_by_id, extracted, errors, notes)
    if verbose:
        _report(docs, questions, sizes, stats, notes, errors)
    return errors


def _report(docs, questions, sizes, stats, notes, errors) -> None:
    print("Documents")
    for d in docs:
        lens = [
            len(norm(page_text(p), "zh")) if d["language"] == "zh" else len(page_text(p).split())
            for p in d["pages"]
        ]
        unit = "chars" if d["language"] == "zh" else "words"
        nq = sum(q["doc"] == d["id"] for q in questions)
        print(
            f"  {d['id']:<22} {d['language']}  {len(d['pages'])} pages  "
            f"{min(lens)}-{max(lens)} {unit}/page  {sizes[d['id']]:>6} bytes  {nq:>2} questions  "
            f"{d['filename']}"
        )
    by_lang = Counter(d["language"] for d in docs)
    pages = sum(len(d["pages"]) for d in docs)
    print(f"  total: {len(docs)} documents ({dict(by_lang)}), {pages} pages")
    print("Questions (language x type)")
    table = Counter((q["language"], q["type"]) for q in questions)
    print("  " + " " * 6 + "".join(f"{t:>14}" for t in TYPES) + f"{'total':>8}")
    for lang in LANGS:
        row = [table[(lang, t)] for t in TYPES]
        print(f"  {lang:<6}" + "".join(f"{n:>14}" for n in row) + f"{sum(row):>8}")
    col = [sum(table[(lang, t)] for lang in LANGS) for t in TYPES]
    print(f"  {'total':<6}" + "".join(f"{n:>14}" for n in col) + f"{len(questions):>8}")
    cross = Counter(
        f"{q['language']} question -> {'zh' if q['language'] == 'en' else 'en'} doc"
        for q in questions
        if q["type"] == "crosslingual"
    )
    print(f"  crosslingual: {dict(cross)}")
    un = sum(q["type"] == "unanswerable" for q in questions)
    print(f"  unanswerable: {un / len(questions):.1%} of questions")
    print(
        f"  answerable questions with a fact found nowhere else in the corpus: "
        f"{stats['corpus_unique']}/{stats['answerable']}"
    )
    if notes:
        print(f"Notes ({len(notes)})")
        for n in notes:
            print(f"  - {n}")
    if errors:
        print(f"ERRORS ({len(errors)})")
        for e in errors:
            print(f"  ! {e}")
    else:
        print("OK: corpus and questions are valid")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: check.py [OUT_DIR]", file=sys.stderr)
        return 2
    return 1 if check(args[0] if args else None) else 0


if __name__ == "__main__":
    raise SystemExit(main())
