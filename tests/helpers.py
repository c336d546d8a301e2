"""Real test documents: PDFs written with PyMuPDF (English and Chinese), one paragraph list per page."""

from __future__ import annotations

from pathlib import Path

import pymupdf


def make_pdf(path: Path, pages: list[str], *, cjk: bool = False, title: str | None = None) -> Path:
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        rect = pymupdf.Rect(56, 56, page.rect.width - 56, page.rect.height - 56)
        left = page.insert_textbox(
            rect,
            text,
            fontsize=10 if len(text) > 1500 else 11,
            fontname="china-s" if cjk else "helv",
        )
        assert left >= 0, "test text overflowed its page"
    if title:
        doc.set_metadata({"title": title})
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    doc.close()
    return path


LEASE_PAGES = [
    "Commercial Lease Agreement between Harbor Point Properties LLC (Landlord) and Bluefin Analytics Inc. "
    "(Tenant). The premises are Suite 400 at 12 Wharf Street. This agreement begins on 1 March 2025.",
    "Section 4 Rent. The monthly rent is 8,400 dollars, payable on the first business day of each month. "
    "A late fee of 5 percent applies to any payment received after the tenth day of the month.",
    "Section 9 Termination. Either party may terminate this lease by giving ninety days written notice. "
    "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates.",
]

GUIDE_PAGES = [
    "Hypertension management guideline for primary care clinics. Blood pressure is measured twice, "
    "five minutes apart, with the patient seated.",
    "First-line drug treatment. Start amlodipine at a dose of 5 mg once daily for patients over 55. For patients with "
    "diabetes, an ACE inhibitor such as lisinopril 10 mg daily is preferred.",
    "Follow-up. Recheck blood pressure after four weeks. Refer to a specialist if the reading stays above "
    "180/110 mmHg despite three drugs at full dose.",
]

ZH_PAGES = [
    "术后护理须知。本须知适用于膝关节置换手术后的患者。请在出院前仔细阅读。",
    "伤口护理：手术后十四天内不要洗澡，保持伤口干燥。每两天更换一次敷料。如果伤口发红、渗液或发热超过三十八度，请立即就医。",
    "康复锻炼：术后第二天开始在理疗师指导下进行屈膝练习。六周内避免跑步和跳跃。术后三个月复查。",
]

# One paragraph of four lines on a page: its third sentence starts mid-line 2 and ends mid-line 3
# (quotes highlighted within a passage's lines).
TERMS_PARAGRAPH = (
    "Section 9 Termination. Either party may terminate this lease by giving ninety days written "
    "notice to the other party at its registered address. The security deposit of 25,200 dollars "
    "is returned within 30 days after the tenant vacates the premises and hands back all keys. "
    "Keys are handed back at the building office on the last day of the lease term."
)
TERMS_PARAGRAPH_ZH = (
    "伤口护理：手术后十四天内不要洗澡，保持伤口干燥，洗澡时请用防水敷料覆盖伤口并在洗完后立即擦干。"
    "每两天更换一次敷料，更换前后都要洗手，使用医院提供的无菌敷料和消毒棉签。"
    "如果伤口发红、渗液或发热超过三十八度，请立即就医。"
)


# Distinctive words of the test documents above, in both languages: no file an encrypted
# collection writes may hold any of them, in any of the forms `leaks` looks for.
SECRET_WORDS = [
    "Bluefin",
    "Wharf Street",
    "8,400",
    "twenty",
    "amlodipine",
    "security deposit",
    "术后",
    "洗澡",
]


# A shorter byte string turns up by chance in megabytes of ciphertext or weights: "术后" in
# UTF-16 is 4 bytes, and CI once found them in a sealed training checkpoint (a few megabytes
# of random bytes hold a given 4 bytes about once in a thousand); 5 bytes are 256 times rarer.
MIN_FORM_BYTES = 5


def _forms(word: str) -> list[bytes]:
    forms = [word.encode(), word.encode("utf-16-le"), word.lower().encode()]
    return [form for form in forms if len(form) >= MIN_FORM_BYTES]


def leaks(folder: Path, skip: tuple[Path, ...] = ()) -> list[str]:
    """Each secret word found in a file under `folder` (but not under `skip`), as it is or
    zlib- or gzip-compressed."""
    import contextlib
    import gzip
    import zlib

    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if any(path.is_relative_to(s) for s in skip):
            continue
        data = path.read_bytes()
        views = [data]
        for unpack in (zlib.decompress, gzip.decompress):
            with contextlib.suppress(Exception):  # not that kind of compressed data
                views.append(unpack(data))
        for word in SECRET_WORDS:
            if any(form in view for form in _forms(word) for view in views):
                found.append(f"{word!r} in {path.relative_to(folder)}")
    return found
