"""Validate the real development corpus and its hand-written questions.

Usage::

    .venv/bin/python bench/realcorpus/fetch.py          # once: the PDFs
    .venv/bin/python bench/realcorpus/check.py [DOCS_DIR] [--notes]

Reads every PDF with kbdesk's own loader (``kbdesk.core.ingest.pdf.load_pdf``, the text kbdesk
indexes; one line per text line) and checks that:

* every document listed in documents.json is present with its recorded page count and page
  fingerprint (so gold pages mean what they meant when the questions were written);
* no page holds a copy of the licence texts of Debian's common-licenses or of the Debian
  Reference (an independent evaluation uses those; see README.md);
* questions follow the schema (README.md) and the kinds/languages are consistent
  (a crosslingual question is asked in the other language than its gold documents);
* every gold evidence (20-200 characters) occurs on the stated page, whitespace-normalised
  (Chinese documents: all whitespace removed on both sides; others: runs collapsed);
* every answer fact occurs in the evidence or on the page of at least one gold entry;
* unanswerable questions have no gold and no facts, and their ``absent`` probe terms occur
  on no page of the corpus;
* the question set meets the agreed minimum counts (kinds, languages, look-alikes).

It prints counts per kind and language. ``--notes`` also lists, for each answerable question,
other pages where its evidence occurs verbatim (candidate extra gold pages). Exit status 0
when valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

try:
    from . import DEFAULT_OUT, load_documents, load_questions, norm, page_texts
    from .fetch import pages_fingerprint
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.realcorpus import DEFAULT_OUT, load_documents, load_questions, norm, page_texts
    from bench.realcorpus.fetch import pages_fingerprint

KINDS = ("lookup", "paraphrase", "names_document", "crosslingual", "unanswerable")
LANGS = ("en", "zh")
QUESTION_KEYS = {"id", "language", "question", "kind", "gold", "answer", "facts", "lookalike"}
OPTIONAL_KEYS = {"sibling", "absent", "note"}
GOLD_KEYS = {"document", "page", "evidence"}
EVIDENCE_LEN = (20, 200)
MINIMUM = {
    "questions": 150,
    "unanswerable": 20,
    "zh": 50,
    "paraphrase": 40,
    "names_document_or_lookalike": 25,
    "crosslingual": 15,
}

# Headings that only a copy of one of the forbidden texts would carry (compared in lower
# case with all whitespace removed, so that page layout does not matter).
FORBIDDEN_MARKERS = (
    "GNU GENERAL PUBLIC LICENSE Version 1, February 1989",
    "GNU GENERAL PUBLIC LICENSE Version 2, June 1991",
    "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
    "GNU LIBRARY GENERAL PUBLIC LICENSE Version 2, June 1991",
    "GNU LESSER GENERAL PUBLIC LICENSE Version 2.1, February 1999",
    "GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
    "GNU Free Documentation License Version 1.3, 3 November 2008",
    "GNU Free Documentation License Version 1.2, November 2002",
    "TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION",
    "END OF TERMS AND CONDITIONS",
    "Apache License Version 2.0, January 2004",
    "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
    "MOZILLA PUBLIC LICENSE Version 1.1",
    "Mozilla Public License Version 2.0",
    "The Artistic License Preamble",
    "CC0 1.0 Universal Statement of Purpose",
    "Redistribution and use in source and binary forms, with or without modification",
    "1 GNU/Linux tutorials",  # first chapter of the Debian Reference
)


def _squash(text: str) -> str:
    return norm(text, "zh").lower()


def _check_documents(docs, pages_by_doc, errors) -> None:
    markers = [(m, _squash(m)) for m in FORBIDDEN_MARKERS]
    for d in docs:
        pages = pages_by_doc.get(d["id"])
        if pages is None:
            continue
        if len(pages) != d["pages"]:
            errors.append(f"{d['id']}: {len(pages)} pages, documents.json says {d['pages']}")
        elif pages_fingerprint(pages, d["language"]) != d["pages_sha256"]:
            errors.append(
                f"{d['id']}: page texts differ from the recorded ones (another PyMuPDF or a "
                f"changed loader?); gold pages must be re-checked by reading"
            )
        for i, text in enumerate(pages, 1):
            squashed = _squash(text)
            if squashed.count("......") >= 5:  # a table of contents names sections only
                continue
            for marker, m in markers:
                if m in squashed:
                    errors.append(f"{d['id']} page {i}: forbidden text {marker!r}")


def _check_question(q, docs_by_id, pages_by_doc, all_pages, errors, notes, show_notes) -> None:
    where = str(q.get("id"))
    missing = QUESTION_KEYS - set(q)
    extra = set(q) - QUESTION_KEYS - OPTIONAL_KEYS
    if missing or extra:
        errors.append(f"{where}: missing keys {sorted(missing)}, unknown keys {sorted(extra)}")
        return
    if q["kind"] not in KINDS or q["language"] not in LANGS:
        errors.append(f"{where}: bad kind/language {q['kind']!r}/{q['language']!r}")
        return
    if not q["question"].strip():
        errors.append(f"{where}: empty question")
    if not isinstance(q["lookalike"], bool):
        errors.append(f"{where}: lookalike must be true or false")
    if q["lookalike"] and q.get("sibling") not in docs_by_id:
        errors.append(f"{where}: a look-alike question names its sibling document (sibling)")
    if q["kind"] == "unanswerable":
        if q["gold"] or q["facts"] or q["answer"] is not None:
            errors.append(f"{where}: unanswerable must have gold [], facts [], answer null")
        if not q.get("absent"):
            errors.append(f"{where}: unanswerable needs probe terms (absent)")
        for term in q.get("absent", []):
            t = _squash(term)
            for doc_id, i, squashed in all_pages:
                if t in squashed:
                    errors.append(f"{where}: probe {term!r} occurs in {doc_id} page {i}")
        return
    if not q["gold"] or not q["facts"] or not q["answer"]:
        errors.append(f"{where}: answerable question needs gold, facts and an answer")
        return
    gold_langs = set()
    found_facts: set[str] = set()
    for g in q["gold"]:
        if set(g) != GOLD_KEYS:
            errors.append(f"{where}: gold keys {sorted(g)} != {sorted(GOLD_KEYS)}")
            continue
        doc = docs_by_id.get(g["document"])
        if doc is None:
            errors.append(f"{where}: unknown document {g['document']!r}")
            continue
        lang = doc["language"]
        gold_langs.add(lang)
        pages = pages_by_doc[doc["id"]]
        if not isinstance(g["page"], int) or not 1 <= g["page"] <= len(pages):
            errors.append(f"{where}: bad page {g['page']!r} for {doc['id']}")
            continue
        ev = g["evidence"]
        if not EVIDENCE_LEN[0] <= len(ev) <= EVIDENCE_LEN[1]:
            errors.append(f"{where}: evidence has {len(ev)} characters (want 20-200)")
        page_n = norm(pages[g["page"] - 1], lang)
        ev_n = norm(ev, lang)
        if ev_n not in page_n:
            errors.append(f"{where}: evidence not on {doc['id']} page {g['page']}: {ev[:60]!r}")
        for fact in q["facts"]:
            f = norm(fact, lang)
            if f in ev_n or f in page_n:
                found_facts.add(fact)
        if show_notes:
            squashed = _squash(ev)
            gold_pages = {(x.get("document"), x.get("page")) for x in q["gold"]}
            others = [
                f"{d} p{i}"
                for d, i, text in all_pages
                if squashed in text and (d, i) not in gold_pages
            ]
            if others:
                notes.append(f"{where}: evidence also on {', '.join(others)}")
    for fact in q["facts"]:
        if not fact.strip():
            errors.append(f"{where}: empty fact")
        elif fact not in found_facts:
            errors.append(f"{where}: fact {fact!r} is on no gold page")
    crosses = q["language"] not in gold_langs
    if q["kind"] == "crosslingual" and (not crosses or len(gold_langs) != 1):
        errors.append(f"{where}: crosslingual, but gold documents are in {sorted(gold_langs)}")
    if q["kind"] != "crosslingual" and crosses:
        errors.append(f"{where}: {q['language']} question on {sorted(gold_langs)} documents")


def _report(docs, questions, pages_by_doc, notes, errors) -> None:
    print("Documents")
    for d in docs:
        nq = sum(any(g["document"] == d["id"] for g in q["gold"]) for q in questions)
        got = len(pages_by_doc.get(d["id"], []))
        print(
            f"  {d['id']:<20} {d['language']}  {got:>3} pages  {nq:>3} questions  {d['filename']}"
        )
    by_lang = Counter()
    for d in docs:
        by_lang[d["language"]] += d["pages"]
    print(f"  total: {len(docs)} documents, {sum(by_lang.values())} pages {dict(by_lang)}")
    print("Questions (language x kind)")
    table = Counter((q["language"], q["kind"]) for q in questions)
    print("  " + " " * 6 + "".join(f"{k:>15}" for k in KINDS) + f"{'total':>8}")
    for lang in LANGS:
        row = [table[(lang, k)] for k in KINDS]
        print(f"  {lang:<6}" + "".join(f"{n:>15}" for n in row) + f"{sum(row):>8}")
    col = [sum(table[(lang, k)] for lang in LANGS) for k in KINDS]
    print(f"  {'total':<6}" + "".join(f"{n:>15}" for n in col) + f"{len(questions):>8}")
    look = sum(q["lookalike"] for q in questions)
    multi = sum(len(q["gold"]) > 1 for q in questions)
    print(f"  look-alike: {look}; with more than one gold page: {multi}")
    if notes:
        print(f"Notes ({len(notes)})")
        for n in notes:
            print(f"  - {n}")
    if errors:
        print(f"ERRORS ({len(errors)})")
        for e in errors:
            print(f"  ! {e}")
    else:
        print("OK: documents and questions are valid")


def _minimums(questions, errors) -> None:
    kinds = Counter(q["kind"] for q in questions)
    got = {
        "questions": len(questions),
        "unanswerable": kinds["unanswerable"],
        "zh": sum(q["language"] == "zh" for q in questions),
        "paraphrase": kinds["paraphrase"],
        "names_document_or_lookalike": sum(
            q["kind"] == "names_document" or q["lookalike"] for q in questions
        ),
        "crosslingual": kinds["crosslingual"],
    }
    for key, want in MINIMUM.items():
        if got[key] < want:
            errors.append(f"only {got[key]} {key} (want at least {want})")


def check(docs_dir: Path | str = DEFAULT_OUT, show_notes: bool = False) -> list[str]:
    docs, questions = load_documents(), load_questions()
    docs_by_id = {d["id"]: d for d in docs}
    errors: list[str] = []
    notes: list[str] = []
    pages_by_doc: dict[str, list[str]] = {}
    for d in docs:
        path = Path(docs_dir) / d["filename"]
        if not path.exists():
            errors.append(f"{d['id']}: {path} is missing (run bench/realcorpus/fetch.py)")
            continue
        pages_by_doc[d["id"]] = page_texts(path)
    if errors:
        print("\n".join(f"  ! {e}" for e in errors))
        return errors
    _check_documents(docs, pages_by_doc, errors)
    all_pages = [
        (doc_id, i, _squash(text))
        for doc_id, pages in pages_by_doc.items()
        for i, text in enumerate(pages, 1)
    ]
    ids = [q.get("id") for q in questions]
    for dup in sorted(i for i, n in Counter(ids).items() if n > 1):
        errors.append(f"duplicate question id {dup}")
    for q in questions:
        _check_question(q, docs_by_id, pages_by_doc, all_pages, errors, notes, show_notes)
    _minimums(questions, errors)
    _report(docs, questions, pages_by_doc, notes, errors)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("docs_dir", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--notes", action="store_true", help="list other pages with the evidence")
    args = parser.parse_args(argv)
    return 1 if check(args.docs_dir, show_notes=args.notes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
