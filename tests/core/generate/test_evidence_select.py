"""Evidence first: numbered candidate sentences, a grammar the real model's choice always parses
under, the question-number check, and answers built and verified on the chosen sentences alone."""

from __future__ import annotations

import json

import pytest

from kbdesk.core.generate.answerer import Answerer, AskOptions
from kbdesk.core.generate.evidence_select import (
    MOST_CHOSEN,
    about_this_question,
    candidates,
    chosen_sources,
    parse_selection,
    selection_grammar,
    selection_turn,
)
from kbdesk.core.types import AnswerOutcome, Hit
from tests.core.generate.test_answerer import EVIDENCE_FIRST, ScriptedModel

PASSAGE = (
    "4. Security Deposit\n"
    "The tenant pays a security deposit of 25,200 dollars on signing. "
    "The deposit is returned within 30 days after the tenant vacates the premises. "
    "Page 3 of 6"
)


def hit(text: str = PASSAGE, document: str = "lease.pdf", page: int = 3, chunk_id: int = 7) -> Hit:
    return Hit(1, 1.0, chunk_id, 1, document, f"/docs/{document}", page, text)


def test_headings_and_page_furniture_are_shown_but_never_numbered():
    cands = candidates([hit()])
    numbered = [cands.text(k) for k in range(1, len(cands.units) + 1)]
    assert numbered == [
        "The tenant pays a security deposit of 25,200 dollars on signing.",
        "The deposit is returned within 30 days after the tenant vacates the premises.",
    ]
    selection = selection_turn(
        "When is the deposit returned?",
        [hit()],
        count_tokens=lambda t: len(t) // 3 + 1,
        context_window=4096,
        answer_budget=256,
    )
    user = selection.messages[-1]["content"]
    assert "4. Security Deposit\n(1) The tenant pays" in user  # the heading, as context
    assert "(2) The deposit is returned" in user and "(3)" not in user
    assert user.count("Question: When is the deposit returned?") == 2


@pytest.mark.parametrize(
    ("reply", "n", "chosen"),
    [
        ('{"sentences": [2, 1]}', 2, (2, 1)),
        ('{"sentences": [2, 2, 9, 0]}', 2, (2,)),  # repeats and unknown numbers dropped
        ('{"sentences": []}', 2, ()),
        ("not json 1 and 3", 2, (1,)),
        ('{"sentences": ["1", null, 2.5]}', 2, (1, 2)),
        ('{"sentences": [1, 2, 3, 4, 5, 6]}', 6, (1, 2, 3, 4)),  # at most MOST_CHOSEN
    ],
)
def test_a_reply_becomes_real_sentence_numbers(reply, n, chosen):
    assert MOST_CHOSEN == 4
    assert parse_selection(reply, n) == chosen


def test_the_real_model_under_the_grammar_always_names_real_sentences(small_host):
    small_host.set_adapter(None)
    many = " ".join(f"Clause {k} sets the fee for item {k} at {k * 10} dollars." for k in range(12))
    selection = selection_turn(
        "What is the fee for item 7?",
        [hit(many)],
        count_tokens=small_host.count_tokens,
        context_window=small_host.n_ctx,
        answer_budget=128,
    )
    n = len(selection.candidates.units)
    assert n == 12
    for temperature in (0.0, 1.5):  # even a wild sample stays inside the grammar
        reply = small_host.complete(
            small_host.format_chat(selection.messages),
            max_tokens=40,
            temperature=temperature,
            grammar=selection.grammar,
            seed=3,
        )
        data = json.loads(reply)
        assert set(data) == {"sentences"} and len(data["sentences"]) <= MOST_CHOSEN
        assert all(isinstance(k, int) and 1 <= k <= n for k in data["sentences"])
    assert selection_grammar(3).count('"3" | "2" | "1"') == 1


def test_a_question_about_another_version_or_year_is_not_answered_by_this_evidence():
    cands = candidates([hit(document="EUPL-1.2.pdf")])
    chosen = chosen_sources(cands, [2])
    assert about_this_question("Under EUPL v1.2, when is the deposit returned?", chosen)
    assert not about_this_question("Under EUPL v1.1, when is the deposit returned?", chosen)
    assert about_this_question("Is it returned within 30 days?", chosen)
    assert not about_this_question("Is it returned within 60 days?", chosen)
    # digits inside names, and counts in words, are not held to the evidence
    assert about_this_question("Which two files under /etc/X11 does it name?", chosen)


def test_the_answer_is_written_from_the_chosen_sentence_and_cites_it(lease_kb):
    model = SelectingModel(
        "The deposit is returned within 30 days after the tenant vacates [1].",
        pick="returned within 30 days",
    )
    answer = Answerer(lease_kb, model).ask(
        "When is the security deposit returned?", options=EVIDENCE_FIRST
    )
    assert answer.outcome is AnswerOutcome.ANSWERED
    (cited,) = answer.citations
    assert (cited.document, cited.page) == ("lease.pdf", 3)
    assert "returned within 30 days" in cited.quote
    assert [cited.text[a:b] for a, b in cited.quote_spans] == [cited.quote]
    (evidence,) = answer.evidence
    assert evidence.text == cited.quote and evidence.page == 3
    assert answer.to_json()["evidence"] == [
        {"document": "lease.pdf", "page": 3, "sentence": evidence.text}
    ]
    answer_turn = model.prompts[-1][-1]["content"]  # only the chosen sentence is a source
    assert "[1] lease.pdf, page 3:" in answer_turn and "[2]" not in answer_turn
    assert "returned within 30 days" in answer_turn and "ninety days" not in answer_turn
    assert model.prompts[-1][:-2] == model.prompts[0]  # one conversation: the cache is reused


def test_a_number_from_a_sentence_that_was_not_chosen_is_not_verified(lease_kb):
    # The deposit amount is in the same passage, but the model chose only the notice sentence.
    said = "Either party may end the lease with ninety days written notice{} [1]."
    question = "How much notice ends the lease?"
    for extra, outcome in [("", AnswerOutcome.ANSWERED), (" and 25,200 dollars", None)]:
        model = SelectingModel(said.format(extra), pick="ninety days written notice")
        answer = Answerer(lease_kb, model).ask(question, options=EVIDENCE_FIRST)
        assert (answer.outcome is AnswerOutcome.ANSWERED) == (outcome is AnswerOutcome.ANSWERED)


def test_nothing_chosen_is_not_in_your_documents(lease_kb):
    model = SelectingModel("Tenants may park two cars in the garage [1].", pick=None)
    answer = Answerer(lease_kb, model).ask(
        "Where may the tenant park a second car?", options=EVIDENCE_FIRST
    )
    assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS and answer.evidence == ()
    assert len(model.prompts) == 1  # no answer turn
    single = Answerer(lease_kb, ScriptedModel("")).ask(
        "Where may the tenant park a second car?", options=AskOptions(evidence_first=False)
    )
    assert single.outcome is AnswerOutcome.NOT_IN_DOCUMENTS


class SelectingModel(ScriptedModel):
    """Chooses the candidate sentence holding `pick` (none when None), then answers `text`."""

    def __init__(self, text: str, pick: str | None):
        super().__init__(text)
        self.pick = pick

    def complete(self, prompt: str, grammar: str | None = None, **kw) -> str:
        assert grammar is not None
        lines = self.prompts[-1][-1]["content"].splitlines()
        chosen = [
            int(line[1 : line.index(")")])
            for line in lines
            if self.pick and line.startswith("(") and self.pick in line
        ]
        return json.dumps({"sentences": chosen[:1]})
