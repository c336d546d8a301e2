"""Whether OCR can run here: find Tesseract's language data (eng, chi_sim) for PyMuPDF's OCR."""

from __future__ import annotations

import glob
import os
import shutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WANTED_LANGUAGES = ("eng", "chi_sim")
OCR_DPI = 300
TESSERACT = (
    "Tesseract with English and Simplified Chinese "
    "(e.g. `apt install tesseract-ocr tesseract-ocr-chi-sim`, "
    "or `brew install tesseract tesseract-lang`)"
)
INSTALL_HINT = f"Install {TESSERACT} and import it again."


@dataclass(frozen=True)
class OcrStatus:
    available: bool
    tessdata: str | None = None
    languages: tuple[str, ...] = ()
    reason: str = ""

    @property
    def language(self) -> str:
        """The Tesseract language spec, e.g. "eng+chi_sim"."""
        return "+".join(self.languages)


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        dirs += [Path(prefix), Path(prefix) / "tessdata"]
    exe = shutil.which("tesseract")
    if exe:
        root = Path(exe).resolve().parent
        dirs += [root / "tessdata", root.parent / "share" / "tessdata"]
        dirs += [
            Path(p) for p in sorted(glob.glob(str(root.parent / "share/tesseract-ocr/*/tessdata")))
        ]
    # Newest Tesseract major version first: its data is what the distro's tesseract uses.
    dirs += [
        Path(p) for p in sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    ]
    dirs += [
        Path("/usr/share/tesseract-ocr/tessdata"),
        Path("/usr/share/tessdata"),
        Path("/usr/local/share/tessdata"),
        Path("/opt/homebrew/share/tessdata"),
        Path("/opt/local/share/tessdata"),
    ]
    if sys.platform == "win32":
        for env in ("ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA"):
            base = os.environ.get(env)
            if base:
                dirs += [
                    Path(base) / "Tesseract-OCR" / "tessdata",
                    Path(base) / "Programs" / "Tesseract-OCR" / "tessdata",
                ]
    return dirs


@lru_cache(maxsize=1)
def ocr_status() -> OcrStatus:
    """Look once per process; call `ocr_status.cache_clear()` after installing Tesseract."""
    # PyMuPDF embeds the Tesseract engine and only needs the traineddata files, so the data
    # folder is the real requirement; the executable just helps locate it.
    best: tuple[Path, tuple[str, ...]] | None = None
    for d in _candidate_dirs():
        try:
            if not d.is_dir():
                continue
            langs = tuple(
                lang for lang in WANTED_LANGUAGES if (d / f"{lang}.traineddata").is_file()
            )
        except OSError:
            continue
        if len(langs) == len(WANTED_LANGUAGES):
            return OcrStatus(True, str(d), langs)
        if langs and best is None:
            best = (d, langs)
    if best is not None:
        missing = [lang for lang in WANTED_LANGUAGES if lang not in best[1]]
        return OcrStatus(
            True, str(best[0]), best[1], reason=f"language data missing: {', '.join(missing)}"
        )
    return OcrStatus(False, reason="Tesseract language data (eng, chi_sim) was not found")


def textpage_ocr(page, status: OcrStatus, flags: int):
    """OCR a whole PDF page into a PyMuPDF TextPage."""
    return page.get_textpage_ocr(
        flags=flags, language=status.language, dpi=OCR_DPI, full=True, tessdata=status.tessdata
    )
