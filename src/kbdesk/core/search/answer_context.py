"""What the model reads: the best pages with their other scoring passages and the passages beside the
best one, adjacent passages merged into one block, best block first.

Search results for people list each page once (searcher.one_per_page): a second passage of a
page would push another page out of the list. What the model reads is chosen for answering: a
section's heading and its body are often two passages of one page, and the page's best passage
may end with the bare heading whose body is the next passage; "one per page" then hid the
answer. The prompt (prompt.build_messages) trims the blocks to its token budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.search.passages import Passages
from kbdesk.core.store.catalog import ChunkRow
from kbdesk.core.types import Hit

Place = tuple[int, int | None]  # (document id, page); an unpaged document is one place
# Places whose passages an answer draws on (the Passages setting's default). The prompt reads a
# fixed budget of their sentences (evidence_windows.py), so more places cost no prompt length:
# ten rather than six put the sentence that answers in the prompt for 0.91 / 0.93 of the
# questions of the two bench corpora against 0.88 / 0.90 (bench/RESULTS.md, "The search's
# ranking as a prior for the sentences read").
PAGES_READ = 10


@dataclass(frozen=True)
class ContextOptions:
    pages: int = PAGES_READ  # places to read (the Passages setting)
    per_page: int = 3  # scoring passages of one page, at most
    neighbours: int = 1  # passages on each side of a page's best one (same page only)
    depth: int = 60  # ranked passages looked at (several per page)

    def __post_init__(self) -> None:
        if not 1 <= self.pages <= 50 or not 1 <= self.per_page <= 10:
            raise InvalidSetting("pages must be 1-50 and passages per page 1-10.")
        if not 0 <= self.neighbours <= 3 or self.depth < self.pages:
            raise InvalidSetting("neighbours must be 0-3, and depth at least the pages.")


def place_of(row: ChunkRow) -> Place:
    return (row.doc_id, row.page)


def answer_context(
    ranked: Sequence[tuple[int, float]], catalog: Passages, options: ContextOptions
) -> list[Hit]:
    """Blocks for the prompt from a best-first ranking of passages (id, score), every passage
    of a page kept, not one per page: the `pages` best places, each with up to `per_page` of its
    ranked passages and the neighbours of its best one, adjacent passages merged."""
    ranked = list(ranked[: options.depth])
    rows = catalog.chunks([cid for cid, _ in ranked])
    ranked = [(cid, score) for cid, score in ranked if cid in rows]
    chosen: dict[Place, dict[int, float]] = {}  # place -> passage id -> score, best place first
    for cid, score in ranked:
        place = place_of(rows[cid])
        if place not in chosen:
            if len(chosen) == options.pages:
                continue
            chosen[place] = {}
        if len(chosen[place]) < options.per_page:
            chosen[place][cid] = score
    blocks: list[tuple[float, list[ChunkRow]]] = []
    for place, members in chosen.items():
        best = rows[next(iter(members))]
        around = catalog.neighbour_ids(best.doc_id, best.ordinal, options.neighbours)
        extra = {cid: r for cid, r in catalog.chunks(around).items() if place_of(r) == place}
        page_rows = {**extra, **{cid: rows[cid] for cid in members}}
        for run in _runs(sorted(page_rows.values(), key=lambda r: r.ordinal)):
            score = max((members.get(r.id, float("-inf")) for r in run), default=float("-inf"))
            if score == float("-inf"):  # a neighbour only: goes with its best passage's block
                score = members[best.id]
            blocks.append((score, run))
    blocks.sort(key=lambda b: -b[0])
    return [_merged(rank, score, run) for rank, (score, run) in enumerate(blocks, start=1)]


def _runs(rows: list[ChunkRow]) -> list[list[ChunkRow]]:
    """Consecutive passages (by ordinal) grouped together."""
    runs: list[list[ChunkRow]] = []
    for row in rows:
        if runs and row.ordinal == runs[-1][-1].ordinal + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def merged_text(run: Sequence[ChunkRow]) -> str:
    """The run's text once: neighbouring passages overlap (the chunker repeats a tail), and
    their character offsets on the page say by how much."""
    text, end = run[0].text, run[0].char_end
    for row in run[1:]:
        if row.char_start < end:
            text += row.text[end - row.char_start :]
        else:
            text += "\n" + row.text
        end = max(end, row.char_end)
    return text


def _merged(rank: int, score: float, run: Sequence[ChunkRow]) -> Hit:
    boxes = tuple(dict.fromkeys(box for row in run for box in row.boxes))
    return run[0].hit(rank, score, text=merged_text(run), boxes=boxes)
