"""Prompt building: numbered sources, a context budget that is never exceeded, history that yields first."""

from __future__ import annotations

import random
import re

import pytest

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.generate.prompt import (
    MAX_HISTORY_EXCHANGES,
    MESSAGE_OVERHEAD,
    NOT_IN_DOCUMENTS,
    build_messages,
    no_rag_messages,
    rewrite_messages,
)
from kbdesk.core.types import Hit


def words(text: str) -> int:
    return len(text.split())


def chars(text: str) -> int:
    return (len(text) + 3) // 4


def convex(text: str) -> int:
    """Long texts cost more than their parts, like BPE merges gone the other way."""
    n = len(text.split())
    return n + (n // 40) ** 2


def hit(n: int, text: str, page: int | None = 1, document: str = "lease.pdf", **kw) -> Hit:
    return Hit(n, 1.0 / n, 100 + n, 1, document, f"/docs/{document}", page, text, **kw)


def passage(n: int, size: int) -> str:
    return " ".join([f"passage{n}", *(f"w{n}_{i}" for i in range(size - 1))])


def recount(messages, count_tokens) -> int:
    return sum(count_tokens(m["content"]) for m in messages) + MESSAGE_OVERHEAD * (
        len(messages) + 1
    )


def source_numbers(plan) -> list[int]:
    return [int(n) for n in re.findall(r"^\[(\d+)\] ", plan.messages[-1]["content"], re.M)]


def test_system_prompt_states_the_rules():
    plan = build_messages(
        "What is the rent?", [hit(1, "Rent is 8,400.")], count_tokens=words, context_window=4096,
        answer_budget=512,
    )  # fmt: skip
    system = plan.messages[0]
    assert system["role"] == "system"
    # a plain-sentence decline, not a reply token (which drew the model to it; see prompt.py)
    assert "do not contain the answer" in system["content"] and "[2]" in system["content"]
    assert NOT_IN_DOCUMENTS not in system["content"]
    assert "Chinese" in system["content"] and "invent" in system["content"]
    assert [m["role"] for m in plan.messages] == ["system", "user"]


def test_sources_are_numbered_with_document_and_page():
    hits = [
        hit(1, "The monthly rent is 8,400 dollars.", page=3),
        hit(2, "Notes without pages.", page=None, document="notes.txt", context_after="More."),
    ]
    plan = build_messages(
        "What is the rent?", hits, count_tokens=words, context_window=4096, answer_budget=512
    )
    user = plan.messages[-1]["content"]
    assert "[1] lease.pdf, page 3:\nThe monthly rent is 8,400 dollars." in user
    assert "[2] notes.txt:\nNotes without pages.\nMore." in user
    assert "page None" not in user
    assert user.index("[2]") < user.index("Question: What is the rent?")
    assert plan.sources == tuple(hits) and plan.omitted == () and plan.notice is None
    assert plan.prompt_tokens == recount(plan.messages, words)


def test_a_chinese_question_names_the_answers_language_after_it():
    hits = [hit(1, "The monthly rent is 8,400 dollars.", page=3)]
    chinese = build_messages(
        "每月租金是多少？", hits, count_tokens=words, context_window=4096, answer_budget=512
    ).messages[-1]["content"]
    assert chinese.endswith("Question: 每月租金是多少？\n\nAnswer in Chinese (用中文回答).")
    english = build_messages(
        "What is the rent?", hits, count_tokens=words, context_window=4096, answer_budget=512
    ).messages[-1]["content"]
    assert english.endswith("Question: What is the rent?")


@pytest.mark.parametrize("count_tokens", [words, chars, convex], ids=["words", "chars", "convex"])
def test_budget_is_never_exceeded(count_tokens):
    rng = random.Random(7)
    outcomes = set()
    for _ in range(200):
        hits = [hit(n, passage(n, rng.randint(1, 400))) for n in range(1, rng.randint(1, 12))]
        window, budget = rng.randint(500, 3000), rng.randint(16, 256)
        plan = build_messages(
            "What is the notice period?",
            hits,
            count_tokens=count_tokens,
            context_window=window,
            answer_budget=budget,
        )
        assert plan.prompt_tokens == recount(plan.messages, count_tokens)
        assert plan.prompt_tokens <= window - budget
        # Every hit is either a numbered source or reported omitted; both keep ranking order.
        assert sorted(plan.sources + plan.omitted, key=lambda h: h.rank) == hits
        assert list(plan.sources) == sorted(plan.sources, key=lambda h: h.rank)
        assert source_numbers(plan) == list(range(1, len(plan.sources) + 1))
        user = plan.messages[-1]["content"]
        assert all(h.text in user for h in plan.sources)  # never truncated
        assert not any(re.search(rf"passage{h.rank}\b", user) for h in plan.omitted)
        assert (plan.notice is None) == (not plan.omitted)
        outcomes.add((bool(plan.sources), bool(plan.omitted)))
    assert outcomes >= {(True, True), (True, False)}  # both fitting and dropping were exercised


def test_a_passage_that_does_not_fit_is_left_out_whole_and_smaller_ones_still_fit():
    hits = [hit(1, passage(1, 100)), hit(2, passage(2, 900)), hit(3, passage(3, 100))]
    plan = build_messages(
        "What is the rent?", hits, count_tokens=words, context_window=800, answer_budget=200
    )
    assert plan.sources == (hits[0], hits[2]) and plan.omitted == (hits[1],)
    assert source_numbers(plan) == [1, 2]
    assert plan.notice == "1 of 3 passages did not fit in the model's context and were left out."


def test_notice_counts_all_omitted_passages():
    hits = [hit(n, passage(n, 300)) for n in range(1, 9)]
    plan = build_messages(
        "What is the rent?", hits, count_tokens=words, context_window=2000, answer_budget=500
    )
    assert len(plan.sources) == 4 and plan.sources == tuple(hits[:4])
    assert plan.notice == "4 of 8 passages did not fit in the model's context and were left out."


def test_question_too_long_raises_with_the_numbers():
    question = "word " * 1000
    base = build_messages(
        "q", [], count_tokens=words, context_window=10_000, answer_budget=100
    ).prompt_tokens
    needed = base - 1 + 1000
    with pytest.raises(InvalidSetting) as err:
        build_messages(question, [], count_tokens=words, context_window=800, answer_budget=100)
    message = str(err.value)
    assert "question is too long" in message
    assert f"needs {needed} tokens" in message and f"{needed - 700} too many" in message


def test_answer_budget_must_leave_room():
    with pytest.raises(InvalidSetting):
        build_messages("q", [], count_tokens=words, context_window=512, answer_budget=512)


def exchanges(n: int, size: int) -> list[dict]:
    turns = []
    for i in range(n):
        turns.append({"role": "user", "content": f"question{i} " + "q " * size})
        turns.append({"role": "assistant", "content": f"answer{i} [1] " + "a " * size})
    return turns


def test_history_keeps_at_most_the_last_two_exchanges_without_old_markers():
    plan = build_messages(
        "And the deposit?",
        [hit(1, "The deposit is 25,200 dollars.")],
        history=exchanges(4, 5),
        count_tokens=words,
        context_window=4096,
        answer_budget=512,
    )
    past = plan.messages[1:-1]
    assert len(past) == 2 * MAX_HISTORY_EXCHANGES
    assert [m["content"].split()[0] for m in past] == [
        "question2",
        "answer2",
        "question3",
        "answer3",
    ]
    assert not any("[1]" in m["content"] for m in past if m["role"] == "assistant")
    assert plan.prompt_tokens == recount(plan.messages, words)


def test_history_is_dropped_before_passages():
    hits = [hit(n, passage(n, 200)) for n in range(1, 4)]
    history = exchanges(2, 150)
    roomy = build_messages(
        "Next?", hits, history=history, count_tokens=words, context_window=3000, answer_budget=200
    )
    assert len(roomy.messages) == 6 and len(roomy.sources) == 3
    # Room for the three passages and one exchange: the older exchange goes, no passage does.
    tight = build_messages(
        "Next?", hits, history=history, count_tokens=words, context_window=1400, answer_budget=200
    )
    assert len(tight.sources) == 3 and tight.omitted == ()
    assert [m["content"].split()[0] for m in tight.messages[1:-1]] == ["question1", "answer1"]
    tighter = build_messages(
        "Next?", hits, history=history, count_tokens=words, context_window=1000, answer_budget=200
    )
    assert len(tighter.sources) == 3 and len(tighter.messages) == 2
    assert tighter.prompt_tokens <= 800


def test_no_rag_prompt_has_no_sources_but_keeps_history():
    messages = no_rag_messages("What is hypertension?", exchanges(1, 2))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "What is hypertension?"
    assert "Sources" not in messages[0]["content"] + messages[-1]["content"]
    assert NOT_IN_DOCUMENTS not in messages[0]["content"]


def test_rewrite_prompt_carries_the_conversation_and_asks_for_the_question_only():
    history = [
        {"role": "user", "content": "What drugs are first-line for hypertension?"},
        {"role": "assistant", "content": "Amlodipine [1] and lisinopril [2]."},
    ]
    messages = rewrite_messages("And the dose of the second one?", history)
    system, user = messages[0]["content"], messages[-1]["content"]
    assert "only the rewritten question" in system and "language" in system
    assert "What drugs are first-line for hypertension?" in user
    assert "Amlodipine and lisinopril." in user and "[2]" not in user
    assert user.rstrip().endswith("Standalone question:")
    assert "And the dose of the second one?" in user


def test_a_source_names_its_document_and_page_but_not_its_section_path():
    from kbdesk.core.generate.prompt import source_block
    from kbdesk.core.types import Hit

    hit = Hit(1, 1.0, 1, 1, "lease.pdf", "/lease.pdf", 3, "The rent is due.", section="4. Rent")
    assert source_block(2, hit) == "[2] lease.pdf, page 3:\nThe rent is due."
    assert source_block(1, Hit(1, 1.0, 1, 1, "a.txt", "/a.txt", None, "x")) == "[1] a.txt:\nx"
