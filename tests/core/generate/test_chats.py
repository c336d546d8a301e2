"""Saved chats: a citation's quote and its spans survive saving; chats saved before quotes still load."""

from __future__ import annotations

import json

from kbdesk.core.generate.chats import ChatStore
from kbdesk.core.types import Answer, AnswerOutcome, Citation

PASSAGE = (
    "Either party may terminate this lease by giving ninety days written notice. "
    "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates."
)
QUOTE = (
    "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates."
)


def test_quote_and_spans_come_back_from_a_saved_chat(tmp_path):
    start = PASSAGE.index(QUOTE)
    citation = Citation(
        1,
        42,
        7,
        "lease.pdf",
        "/docs/lease.pdf",
        3,
        PASSAGE,
        ((56.0, 72.2, 532.3, 87.4), (56.0, 88.5, 533.5, 103.6)),
        quote=QUOTE,
        quote_spans=((start, start + len(QUOTE)),),
    )
    answer = Answer("When?", "Within 30 days [1].", AnswerOutcome.ANSWERED, (citation,))
    store = ChatStore(tmp_path)
    chat = store.new()
    store.append(chat, answer)
    [again] = store.answers(chat)
    assert again.citations == (citation,)  # every field, the quote and its spans included
    assert again.to_json() == answer.to_json()


def test_a_chat_saved_before_quotes_existed_still_loads(tmp_path):
    # the file exactly as the chat store wrote it before citations had quotes
    old = {
        "title": "When is the deposit returned?",
        "turns": [
            {
                "question": "When is the deposit returned?",
                "answer": {
                    "answer": "Within 30 days [1].",
                    "outcome": "answered",
                    "citations": [
                        {
                            "n": 1,
                            "document": "lease.pdf",
                            "path": "/docs/lease.pdf",
                            "page": 3,
                            "text": PASSAGE,
                        }
                    ],
                    "supported": True,
                },
                "sources": [
                    {"n": 1, "chunk_id": 42, "doc_id": 7, "boxes": [[56.0, 72.2, 532.3, 87.4]]}
                ],
                "nearest": [],
                "notice": None,
                "at": 1767225600.0,
                "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
                "adapter": None,
            }
        ],
    }
    store = ChatStore(tmp_path)
    store.folder.mkdir(parents=True)
    (store.folder / "20260101-000000-abcdef.json").write_text(json.dumps(old), encoding="utf-8")
    [answer] = store.answers("20260101-000000-abcdef")
    [c] = answer.citations
    assert (c.n, c.chunk_id, c.text, c.boxes) == (1, 42, PASSAGE, ((56.0, 72.2, 532.3, 87.4),))
    assert (c.quote, c.quote_spans) == ("", ())  # the window then shows the whole passage
    # and a turn added to it now is saved with its quote next to the old one
    store.append("20260101-000000-abcdef", answer)
    assert len(store.answers("20260101-000000-abcdef")) == 2


def test_an_encrypted_collections_chats_are_sealed_and_a_damaged_one_hides_no_other(tmp_path):
    import pytest

    from kbdesk.core.crypt.keys import new_data_key
    from kbdesk.core.errors import SealBroken

    key = new_data_key()
    store = ChatStore(tmp_path, key=key)
    citation = Citation(1, 42, 7, "lease.pdf", "/docs/lease.pdf", 3, PASSAGE, quote=QUOTE)
    first, second = store.new(), store.new() + "b"
    for chat in (first, second):
        store.append(
            chat,
            Answer(
                "When is the deposit returned?",
                "Within 30 days [1].",
                AnswerOutcome.ANSWERED,
                (citation,),
            ),
        )
    for path in (tmp_path / "chats").iterdir():
        raw = path.read_bytes()
        assert b"deposit" not in raw and b"25,200" not in raw and b"lease" not in raw
    assert [a.to_json() for a in store.answers(first)] == [
        a.to_json() for a in store.answers(second)
    ]
    assert ChatStore(tmp_path).list() == [], "without the key no chat can be read"
    damaged = tmp_path / "chats" / f"{first}.json"
    damaged.write_bytes(damaged.read_bytes()[:-5])
    with pytest.raises(SealBroken, match=f"{first}.json cannot be opened"):
        store.load(first)
    assert [c.id for c in store.list()] == [second]
