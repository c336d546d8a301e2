"""One shared collection's passages on the server, read through the login's own rights: what
search and the answer's context read (the same methods as the local catalog), the HNSW graph's
nearest passages, BM25 over the keyword postings, and the hybrid search's candidates in one SQL
statement.

Scores match the local collection's: cosine similarity of the same vectors, and BM25 (k1 1.2,
b 0.75, the idf of SQLite's FTS5) over the same budgeted terms (text.budgeted_terms), read from
the postings table, so the same fusion (search/fusion.py, in Python: one definition) ranks them
alike.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from kbdesk.core.embed.base import Embedder
from kbdesk.core.search.fusion import best_first
from kbdesk.core.search.searcher import Searcher
from kbdesk.core.search.text import KEYWORD_ROW_BUDGET, budgeted_terms, fts_words, query_terms
from kbdesk.core.server.admin import SharedCollectionInfo
from kbdesk.core.server.connection import ServerAddress, server_errors
from kbdesk.core.store.catalog import ChunkRow

BM25_K1, BM25_B = 1.2, 0.75  # FTS5's defaults, as the local keyword index
# Candidates the HNSW scan keeps at least (bench/bench_server_hnsw.py, graphs built a document at
# a time): recall@10 at 300k passages 0.91 with 100, 0.96 with 200 for 1 ms more, 0.97 with 800
# for 18 ms more; pgvector's default 40 gave 0.85 at 100k.
HNSW_EF_FLOOR = 200

_CHUNK_COLUMNS = (
    "c.id, c.doc_id, c.ordinal, c.page, c.char_start, c.char_end, c.boxes, c.text, d.name,"
    " c.section"
)


def _float(value: float) -> sql.Composable:
    return sql.SQL("{}::float8").format(sql.Literal(value))  # a bare 2.2 is numeric: slower


def _length_norm(alias: str) -> sql.Composable:
    """BM25's length normalisation of the passage (or posting) `alias`."""
    return sql.SQL("({} + {} * {}.length / %(avgdl)s)").format(
        _float(1 - BM25_B), _float(BM25_B), sql.Identifier(alias)
    )


class _Term(NamedTuple):
    """One budgeted term of a question: `text` is a one-word term's lexeme, or a phrase's words."""

    text: str
    idf: float
    kept: bool  # any passage holding it matches
    grouped: bool  # a passage matches when it holds every grouped term


@dataclass(frozen=True)
class _KeywordQuery:
    """The budgeted terms of a question, with their BM25 weights: a one-word term by its lexeme
    (as the server stems it; scored from the postings), a term of several words ("1.2" -> "1 2")
    by its words (scored by the keyword index's phrase match, as FTS5 scores a phrase)."""

    words: list[_Term]
    phrases: list[_Term]
    avgdl: float

    @property
    def together(self) -> int:
        """How many grouped terms there are: a passage that holds them all matches the group."""
        return sum(t.grouped for t in (*self.words, *self.phrases))


class ServerPassages:
    """A shared collection's passages; every statement runs as the user's own login, so row-level
    security decides what it returns."""

    def __init__(
        self,
        pool: ConnectionPool,
        address: ServerAddress,
        collection: SharedCollectionInfo,
        files_dir: Path,
    ):
        self.pool = pool
        self.address = address
        self.collection = collection
        self.files_dir = files_dir
        self._id = sql.Literal(collection.id)
        self._words = sql.SQL("{}::regconfig").format(sql.Literal(collection.words))
        self._vector = sql.SQL("vector({})").format(sql.Literal(collection.dim))
        self._facts: dict[tuple[str, int], tuple[str | None, int]] = {}
        self._facts_generation = -1
        self._facts_lock = threading.Lock()

    def rows(self, query: sql.Composed | sql.SQL | str, params=None) -> list[tuple]:
        with server_errors(self.address), self.pool.connection() as con:
            return con.execute(query, params).fetchall()

    # -- what the local catalog offers -----------------------------------------------------------

    @property
    def generation(self) -> int:
        """Changes whenever a document is added, replaced or removed."""
        rows = self.rows(
            "SELECT count(*), coalesce(max(id), 0) FROM kbdesk.documents WHERE collection_id = %s",
            (self.collection.id,),
        )
        count, last = rows[0]
        return int(count) * 1_000_003 + int(last)

    def local_path(self, doc_id: int, name: str) -> Path:
        """Where this PC keeps its copy of a document's original file (SharedCollection.original
        brings it)."""
        return self.files_dir / str(self.collection.id) / str(doc_id) / Path(name).name

    def document_heads(self, chars: int = 160) -> list[tuple[int, str, str]]:
        rows = self.rows(
            "SELECT d.id, d.name, substr(c.text, 1, %s) FROM kbdesk.documents d"
            " LEFT JOIN kbdesk.chunks c ON c.collection_id = d.collection_id AND c.doc_id = d.id"
            " AND c.ordinal = 0 WHERE d.collection_id = %s",
            (chars, self.collection.id),
        )
        return [(int(r[0]), r[1], r[2] or "") for r in rows]

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        wanted = [int(i) for i in ids]
        if not wanted:
            return {}
        rows = self.rows(
            f"SELECT {_CHUNK_COLUMNS} FROM kbdesk.chunks c JOIN kbdesk.documents d"
            " ON d.id = c.doc_id WHERE c.collection_id = %s AND c.id = ANY(%s)",
            (self.collection.id, wanted),
        )
        return {r[0]: self._chunk_row(r) for r in rows}

    def _chunk_row(self, r: tuple) -> ChunkRow:
        boxes = tuple(tuple(b) for b in json.loads(r[6]))
        path = str(self.local_path(r[1], r[8]))
        return ChunkRow(r[0], r[1], r[2], r[3], r[4], r[5], boxes, r[7], r[8], path, r[9])

    def neighbour_ids(self, doc_id: int, ordinal: int, around: int) -> list[int]:
        rows = self.rows(
            "SELECT id FROM kbdesk.chunks WHERE collection_id = %s AND doc_id = %s"
            " AND ordinal BETWEEN %s AND %s AND ordinal <> %s ORDER BY ordinal",
            (self.collection.id, doc_id, ordinal - around, ordinal + around, ordinal),
        )
        return [r[0] for r in rows]

    def neighbour_texts(
        self, doc_id: int, ordinal: int, before: int, after: int
    ) -> tuple[str, str]:
        rows = self.rows(
            "SELECT ordinal, text FROM kbdesk.chunks WHERE collection_id = %s AND doc_id = %s"
            " AND ordinal BETWEEN %s AND %s ORDER BY ordinal",
            (self.collection.id, doc_id, ordinal - before, ordinal + after),
        )
        return (
            " ".join(t for o, t in rows if o < ordinal),
            " ".join(t for o, t in rows if o > ordinal),
        )

    def doc_ids_for_names(self, names: Iterable[str]) -> list[int]:
        wanted = [str(n) for n in names]
        rows = self.rows(
            "SELECT id FROM kbdesk.documents WHERE collection_id = %s"
            " AND (name = ANY(%s) OR source = ANY(%s) OR id::text = ANY(%s))",
            (self.collection.id, wanted, wanted, wanted),
        )
        return [r[0] for r in rows]

    def chunk_ids_of_documents(self, doc_ids: list[int]) -> list[int]:
        rows = self.rows(
            "SELECT id FROM kbdesk.chunks WHERE collection_id = %s AND doc_id = ANY(%s)",
            (self.collection.id, list(doc_ids)),
        )
        return [r[0] for r in rows]

    def vectors_for_ids(self, ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows(
            "SELECT id, embedding FROM kbdesk.chunks WHERE collection_id = %s AND id = ANY(%s)",
            (self.collection.id, [int(i) for i in ids]),
        )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids_out = np.asarray([r[0] for r in rows], dtype=np.int64)
        return ids_out, np.stack([np.asarray(r[1], dtype=np.float32) for r in rows])

    def document_frequencies(self, terms: list[str], cap: int) -> list[int]:
        """How many passages hold each term (at most `cap`); a word the server's stemmer drops
        as too common counts as everywhere."""
        return [min(df, cap) for _lexeme, df in self._term_facts(terms, cap)]

    def _term_facts(self, terms: list[str], cap: int) -> list[tuple[str | None, int]]:
        """(lexeme, passages holding it) per term, in order: counted in full for a one-word term
        (BM25's idf, as FTS5's, needs the true count), at most `cap` for a phrase; remembered
        until a document is added, replaced or removed."""
        if not terms:
            return []
        generation = self.generation
        with self._facts_lock:
            if self._facts_generation != generation:
                self._facts = {}
                self._facts_generation = generation
            facts = self._facts
        missing = [t for t in dict.fromkeys(terms) if (t, cap) not in facts]
        if missing:  # counted outside the lock: searches from other threads go on meanwhile
            facts.update(zip(((t, cap) for t in missing), self._count(missing, cap), strict=True))
        return [facts[(t, cap)] for t in terms]

    def _count(self, terms: list[str], cap: int) -> list[tuple[str | None, int]]:
        # One SELECT per term with the term as a literal: a one-word term counted from its
        # postings (an index-only read), a phrase by the GIN index (its query a constant then;
        # a query computed per row scans every passage), visiting at most `cap` passages.
        cfg = self._words
        lexeme = sql.SQL(
            "(SELECT u.lexeme FROM unnest(to_tsvector({cfg}, {term})) AS u"
            " ORDER BY u.positions[1] LIMIT 1)"
        )
        by_postings = sql.SQL(
            "SELECT {i}, x.lexeme, (SELECT count(*) FROM kbdesk.postings p"
            "   WHERE p.collection_id = {id} AND p.lexeme = x.lexeme)"
            " FROM (SELECT {lexeme} AS lexeme) AS x"
        )
        by_phrase = sql.SQL(
            "SELECT {i}, {lexeme}, (SELECT count(*) FROM (SELECT 1 FROM kbdesk.chunks c"
            "   WHERE c.collection_id = {id} AND c.keywords @@ phraseto_tsquery({cfg}, {term})"
            "   LIMIT {cap}) AS s)"
        )
        selects = []
        for i, t in enumerate(terms):
            text = fts_words(t)
            words = sql.Literal(text)
            form = by_phrase if " " in text else by_postings
            selects.append(
                form.format(
                    i=sql.Literal(i),
                    lexeme=lexeme.format(cfg=cfg, term=words),
                    cfg=cfg,
                    term=words,
                    id=self._id,
                    cap=sql.Literal(cap),
                )
            )
        statement = sql.SQL(" UNION ALL ").join(selects)
        rows = [r[1:] for r in self.rows(sql.SQL("{} ORDER BY 1").format(statement))]
        return [(r[0], int(r[1]) if r[0] is not None else cap) for r in rows]

    # -- keyword search ------------------------------------------------------------------------

    def _keyword_query(self, terms: list[str]) -> _KeywordQuery | None:
        facts = [
            (t, lex, df)
            for t, (lex, df) in zip(
                terms, self._term_facts(terms, KEYWORD_ROW_BUDGET + 1), strict=True
            )
            if lex
        ]
        if not facts:
            return None
        kept, grouped = budgeted_terms(
            [t for t, _, _ in facts], [df for _, _, df in facts], KEYWORD_ROW_BUDGET
        )
        rows = self.rows(
            "SELECT coalesce(sum(chunks), 0), coalesce(sum(tokens), 0) FROM kbdesk.documents"
            " WHERE collection_id = %s",
            (self.collection.id,),
        )
        total, tokens = (int(v) for v in rows[0])
        words: list[_Term] = []
        phrases: list[_Term] = []
        for term, lexeme, df in facts:
            idf = max(math.log((total - df + 0.5) / (df + 0.5)), 1e-6)  # FTS5's idf
            text = fts_words(term)
            several = " " in text  # FTS5 scores a phrase by its matches, not by its first word
            entry = _Term(text if several else lexeme, idf, term in kept, term in grouped)
            (phrases if several else words).append(entry)
        return _KeywordQuery(words, phrases, tokens / total if total else 1.0)

    def _keyword_sql(
        self, query: _KeywordQuery, k: int, doc_ids: list[int] | None
    ) -> tuple[sql.Composed, dict]:
        """BM25 of the passages that hold a kept term, or every grouped one: the one-word terms
        from their postings (an index-only read of the question's words), the phrases by the
        keyword index's phrase match."""
        k1p, k1 = _float(BM25_K1 + 1), _float(BM25_K1)
        cfg = self._words
        # One SELECT per phrase with the phrase as a literal: the GIN index finds the passages
        # holding it; its count in each (FTS5's tf) is the number of places where each of its
        # words stands at its own offset from the first.
        phrase_rows = [
            sql.SQL(
                "SELECT c.id, {idf}::float8 * (f.tf * {k1p}) / (f.tf + {k1} * {norm}) AS score,"
                " {kept} AS kept, {grouped} AS grouped FROM kbdesk.chunks c,"
                " LATERAL (SELECT count(*) AS tf FROM ("
                "   SELECT at - q.offset_ FROM unnest(c.keywords) AS u, unnest(u.positions) AS at,"
                "     (SELECT t.lexeme, p - 1 AS offset_ FROM unnest(to_tsvector({cfg}, {words}))"
                "      AS t, unnest(t.positions) AS p) AS q"
                "   WHERE u.lexeme = q.lexeme GROUP BY 1"
                "   HAVING count(DISTINCT q.offset_) = {length}) AS starts) AS f"
                " WHERE c.collection_id = {id} AND c.keywords @@ phraseto_tsquery({cfg}, {words})"
                " {docs}"
            ).format(
                length=sql.Literal(len(words.split())),
                idf=sql.Literal(idf),
                k1p=k1p,
                k1=k1,
                norm=_length_norm("c"),
                kept=sql.Literal(kept),
                grouped=sql.Literal(grouped),
                id=self._id,
                cfg=cfg,
                words=sql.Literal(words),
                docs=self._doc_filter("c", doc_ids),
            )
            for words, idf, kept, grouped in query.phrases
        ]
        no_phrases = sql.SQL(
            "SELECT NULL::bigint AS id, NULL::float8 AS score, NULL::bool AS kept,"
            " NULL::bool AS grouped WHERE false"
        )
        # As FTS5's bm25() on "kept OR kept OR (grouped AND grouped)": a term counts where its
        # part of the query matches, so the grouped terms count only in a passage holding them all.
        statement = sql.SQL(
            "WITH w (lexeme, idf, kept, grouped) AS ("
            "   SELECT * FROM unnest(%(lexemes)s::text[], %(idf)s::float8[], %(kept)s::bool[],"
            "                        %(grouped)s::bool[])),"
            " scored (id, score, kept, grouped) AS ("
            "   SELECT p.chunk_id, w.idf * (p.tf * {k1p}) / (p.tf + {k1} * {norm}), w.kept, w.grouped"
            "   FROM kbdesk.postings p JOIN w ON w.lexeme = p.lexeme"
            "   WHERE p.collection_id = {id} AND p.lexeme = ANY(%(lexemes)s::text[]) {docs}"
            "   UNION ALL {phrases}),"
            " matched AS ("
            "   SELECT id, coalesce(sum(score) FILTER (WHERE kept), 0) AS kept,"
            "          sum(score) FILTER (WHERE grouped) AS grouped,"
            "          count(*) FILTER (WHERE grouped) = %(together)s AS together"
            "   FROM scored GROUP BY id)"
            " SELECT id, kept + CASE WHEN together THEN grouped ELSE 0 END AS score"
            " FROM matched WHERE kept > 0 OR together"
            " ORDER BY score DESC, id LIMIT %(k)s"
        ).format(
            k1p=k1p,
            k1=k1,
            norm=_length_norm("p"),
            id=self._id,
            docs=self._doc_filter("p", doc_ids),
            phrases=sql.SQL(" UNION ALL ").join(phrase_rows) if phrase_rows else no_phrases,
        )
        params = {
            "avgdl": query.avgdl or 1.0,
            "lexemes": [w.text for w in query.words],
            "idf": [w.idf for w in query.words],
            "kept": [w.kept for w in query.words],
            "grouped": [w.grouped for w in query.words],
            "together": query.together or -1,  # no grouped terms: no group to match
            "k": k,
            "docs": list(doc_ids or []),
        }
        return statement, params

    def _doc_filter(self, alias: str, doc_ids: list[int] | None) -> sql.Composable:
        if doc_ids is None:
            return sql.SQL("")
        return sql.SQL("AND {}.doc_id = ANY(%(docs)s)").format(sql.Identifier(alias))

    def keyword_ranked(
        self, terms: list[str], k: int, doc_ids: list[int] | None = None
    ) -> list[tuple[int, float]]:
        query = self._keyword_query(terms)
        if query is None:
            return []
        statement, params = self._keyword_sql(query, k, doc_ids)
        return [(int(r[0]), float(r[1])) for r in self.rows(statement, params)]

    # -- nearest vectors -----------------------------------------------------------------------

    def _nearest_sql(self, doc_ids: list[int] | None) -> sql.Composed:
        """The `%(pool)s` passages nearest `%(q)s` by the HNSW graph: (id, cosine)."""
        return sql.SQL(
            "SELECT id, 1 - (embedding::{vector} <=> %(q)s::{vector}) FROM kbdesk.chunks"
            " WHERE collection_id = {id} {docs}"
            " ORDER BY embedding::{vector} <=> %(q)s::{vector} LIMIT %(pool)s"
        ).format(id=self._id, vector=self._vector, docs=self._doc_filter("chunks", doc_ids))

    def _searching(self, con: psycopg.Connection, pool: int, filtered: bool) -> None:
        """Settings of the HNSW scan for this transaction: a candidate list as long as the
        passages wanted, and with a document filter, an iterative scan (no filtering losses)."""
        ef = min(1000, max(HNSW_EF_FLOOR, pool))
        con.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef)))
        if filtered:
            con.execute("SET LOCAL hnsw.iterative_scan = strict_order")

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The `k` passages nearest `vector` by the collection's HNSW graph: (id, cosine)."""
        statement = self._nearest_sql(None)
        with server_errors(self.address), self.pool.connection() as con, con.transaction():
            self._searching(con, k, False)
            rows = con.execute(statement, {"q": vector, "pool": k}).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def candidates(
        self, vector: np.ndarray, terms: list[str], pool: int, doc_ids: list[int] | None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]]:
        """Searcher.candidates in one statement: the nearest `pool` passages, the `pool` best by
        BM25, and the cosine of every one of them."""
        query = self._keyword_query(terms) if terms else None
        params: dict = {"q": vector, "pool": pool, "docs": list(doc_ids or [])}
        if query is None:
            keyword: sql.Composable = sql.SQL(
                "SELECT NULL::bigint AS id, NULL::float8 AS score WHERE false"
            )
        else:
            keyword, more = self._keyword_sql(query, pool, doc_ids)
            params.update(more)
        statement = sql.SQL(
            "WITH dense AS MATERIALIZED ({dense}), keyword AS MATERIALIZED ({keyword})"
            " SELECT c.id, 1 - (c.embedding::{vector} <=> %(q)s::{vector}),"
            "        c.id IN (SELECT id FROM dense), k.score"
            " FROM kbdesk.chunks c LEFT JOIN keyword k ON k.id = c.id"
            " WHERE c.collection_id = {id}"
            "   AND c.id IN (SELECT id FROM dense UNION SELECT id FROM keyword)"
        ).format(
            dense=self._nearest_sql(doc_ids),
            keyword=keyword,
            vector=self._vector,
            id=self._id,
        )
        with server_errors(self.address), self.pool.connection() as con, con.transaction():
            self._searching(con, pool, doc_ids is not None)
            rows = con.execute(statement, params).fetchall()
        cosine = {int(r[0]): float(r[1]) for r in rows}
        dense = best_first({int(r[0]): float(r[1]) for r in rows if r[2]})
        keyword_list = best_first({int(r[0]): float(r[3]) for r in rows if r[3] is not None})
        return dense, keyword_list, cosine


class SharedSearcher(Searcher):
    """The local searcher (fusion, named documents, one result per page, the answer's context)
    over a shared collection; the candidates come from the server in one statement."""

    def __init__(self, passages: ServerPassages, embedder: Embedder):
        super().__init__(passages, passages, embedder)
        self.passages = passages

    def candidates(
        self, query: str, pool: int, doc_ids: list[int] | None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]]:
        return self.passages.candidates(self.embed_query(query), query_terms(query), pool, doc_ids)
