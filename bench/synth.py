"""Deterministic synthetic legal/clinical prose for benchmarks: distinct text on every page."""

from __future__ import annotations

import random
from pathlib import Path

PARTIES = [
    "the Tenant",
    "the Landlord",
    "the Licensee",
    "the Supplier",
    "the Employer",
    "the Employee",
    "the Hospital",
    "the Patient",
    "the Contractor",
    "the Client",
    "the Guarantor",
    "Counsel",
]
VERBS = [
    "shall notify",
    "must reimburse",
    "may terminate the agreement with",
    "shall indemnify",
    "will provide written reports to",
    "is responsible for the maintenance owed to",
    "shall keep confidential all information received from",
    "must obtain prior consent from",
]
OBJECTS = [
    "within {n} days of the request",
    "no later than {n} business days after the invoice date",
    "for a period of {n} months",
    "subject to a cap of {n},000 dollars",
    "unless a dose above {n} mg daily is prescribed",
    "at intervals of {n} weeks",
    "in accordance with Section {n}.{m} of this agreement",
    "as recorded in exhibit {n}-{m}",
]
CLINICAL = [
    "Blood pressure above {n}0/{m}0 mmHg requires review by the attending physician.",
    "Administer {n} mg of the study drug with food and record the INR after {m} days.",
    "Patients older than {n}{m} years receive a falls assessment on admission.",
    "The wound dressing is changed every {n} days and inspected for signs of infection.",
]


def sentence(rng: random.Random) -> str:
    n, m = rng.randint(2, 99), rng.randint(1, 9)
    if rng.random() < 0.25:
        return rng.choice(CLINICAL).format(n=n, m=m)
    a, b = rng.sample(PARTIES, 2)
    return f"{a[0].upper()}{a[1:]} {rng.choice(VERBS)} {b} {rng.choice(OBJECTS).format(n=n, m=m)}."


def page_text(rng: random.Random, page: int, chars: int = 2200) -> str:
    paragraphs, size = [f"Section {page}. Terms applying to matter {rng.randint(1000, 9999)}."], 0
    while size < chars:
        para = " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
        paragraphs.append(para)
        size += len(para)
    return "\n\n".join(paragraphs)


def make_long_pdf(path: Path, pages: int, seed: int = 7, chars: int = 2200) -> Path:
    import pymupdf

    rng = random.Random(seed)
    doc = pymupdf.open()
    for p in range(1, pages + 1):
        page = doc.new_page()
        rect = pymupdf.Rect(50, 50, page.rect.width - 50, page.rect.height - 50)
        text = page_text(rng, p, chars)
        fontsize = 10.0
        while page.insert_textbox(rect, text, fontsize=fontsize, fontname="helv") < 0:
            page.clean_contents()
            doc.delete_page(-1)
            page = doc.new_page()
            fontsize -= 0.5
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path, garbage=3, deflate=True)
    doc.close()
    return path
