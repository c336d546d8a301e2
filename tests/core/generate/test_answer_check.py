"""The last check before verified (answer_check.py): the answer's own words against the sentences
it quotes, and which models the model's own check is asked of."""

from __future__ import annotations

from kbdesk.core.generate.answer_check import (
    MIN_NEW_TERMS,
    odds_floors,
    restates,
    unquoted_share,
    words_unquoted,
)
from kbdesk.core.generate.models import BUILTIN_MODELS
from kbdesk.core.types import Citation

QUORUM = "There is no quorum for this immediate procedural vote."


def cited(quote: str, text: str = "") -> Citation:
    return Citation(
        n=1, chunk_id=1, doc_id=1, document="c.pdf", path="c.pdf", page=6,
        text=text or quote, quote=quote,
    )  # fmt: skip


def test_an_answer_in_its_quotes_words_is_not_doubted():
    question = "When is the security deposit returned?"
    quote = "The security deposit is returned within 30 days after the tenant vacates the premises."
    answer = "It is returned within 30 days after the tenant vacates the premises [1]."
    new, share = unquoted_share(answer, question, [quote])
    assert new >= MIN_NEW_TERMS and share == 0.0  # "30", "tenant", "vacates", ... are quoted
    assert not words_unquoted(answer, question, [cited(quote)])


def test_an_answer_its_quote_does_not_state_is_doubted():
    # The real corpus's con11: a quorum and a casting vote the quoted sentence never gives.
    question = (
        "What is the quorum when the Technical Committee votes, and who has the casting vote?"
    )
    answer = "The quorum is 3Q. The casting vote is held by the Project Leader [3]."
    new, share = unquoted_share(answer, question, [QUORUM])
    assert new >= MIN_NEW_TERMS and share == 1.0  # held, project, leader, 3
    assert words_unquoted(answer, question, [cited(QUORUM)])


def test_the_questions_words_and_an_answers_framing_are_not_new():
    question = "Which country's law governs the EUPL 1.2 licence?"
    answer = "According to the document, the EUPL 1.2 licence is governed by the law [1]."
    assert unquoted_share(answer, question, ["It is governed by Belgian law."])[0] == 0


def test_a_quote_stands_for_the_passage_only_when_there_is_one():
    answer = "A quorum of two is needed and the Chair has the casting vote [1]."
    passage = "There is a quorum of two. The Chair has a casting vote."
    assert not words_unquoted(answer, "What is the quorum?", [cited("", text=passage)])
    assert words_unquoted(answer, "What is the quorum?", [cited(QUORUM, text=passage)])


def test_answers_in_another_script_than_their_quotes_are_not_judged_by_words():
    answer = "技术委员会的法定人数是两人，主席有决定票[1]。"
    assert unquoted_share(answer, "技术委员会的法定人数是多少？", [QUORUM]) == (0, 0.0)


def test_the_models_own_check_is_asked_only_of_the_model_it_was_measured_with():
    large, small = BUILTIN_MODELS["large"], BUILTIN_MODELS["small"]
    floors = odds_floors(large.file.removesuffix(".gguf"))
    assert floors == large.check_odds is not None
    assert 0 < floors.decline < floors.doubt < 1  # declining asks for more doubt than doubting
    assert odds_floors(small.file.removesuffix(".gguf")) is None
    assert odds_floors("my-own-model-q8_0") is None


def test_an_answer_in_the_questions_own_words_restates_it():
    # The real corpus's fhs17 and eu06: verified, wrong, every word the question's.
    assert restates(
        "Yes, files in /tmp survive a reboot [1].", "Should files in /tmp survive a reboot?"
    )
    assert restates(
        "The EUPL 1.2 governs the licence [1].", "Which law governs the licence of EUPL 1.2?"
    )
    assert restates(
        "[1] Debian Edu 支持用树莓派做瘦客户端。", "Debian Edu 支持用树莓派做瘦客户端吗？"
    )
    # a word or a number of its own is a claim the passage can be checked for
    assert not restates("The leader serves for one year [1].", "How long does the leader serve?")
    assert not restates(
        "Yes, the deposit is 25,200 dollars [4].", "Is the security deposit 25,200 dollars?"
    )
    assert not restates(
        "No, the leader may not withdraw it once made [1].", "Can the leader withdraw it?"
    )
