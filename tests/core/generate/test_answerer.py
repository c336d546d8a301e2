"""Answering with the real 0.5B model: gating, streaming, cancel, honest refusals, citation mapping."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kbdesk.core.errors import Cancelled
from kbdesk.core.generate.answerer import Answerer, AskOptions
from kbdesk.core.generate.chats import ChatStore
from kbdesk.core.generate.citation_quotes import QUOTE_JOIN
from kbdesk.core.generate.models import BUILTIN_MODELS
from kbdesk.core.jobs import CancelToken
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.messages import say
from kbdesk.core.types import AnswerOutcome


@pytest.fixture
def answerer(lease_kb, small_host):
    small_host.set_adapter(None)
    return Answerer(lease_kb, small_host)


def test_real_answer_streams_and_its_citations_point_at_real_pages(answerer, lease_kb):
    pieces = []
    answer = answerer.ask(
        "How much is the security deposit and when is it returned?",
        options=AskOptions(max_answer_tokens=96, temperature=0.0),
        on_token=pieces.append,
    )
    assert len(pieces) > 1 and answer.answer and answer.model.startswith("qwen2.5-coder-0.5b")
    for citation in answer.citations:
        row = lease_kb.catalog.chunks([citation.chunk_id])[citation.chunk_id]
        assert (row.document, row.page, row.text) == (
            citation.document,
            citation.page,
            citation.text,
        )
        assert f"[{citation.n}]" in answer.answer
        # the supporting sentence(s), verbatim from the passage
        pieces = [citation.text[a:b] for a, b in citation.quote_spans]
        assert citation.quote and citation.quote == QUOTE_JOIN.join(pieces)
    assert answer.supported == bool(answer.citations and any(s.supported for s in answer.sentences))
    assert answer.outcome in (AnswerOutcome.ANSWERED, AnswerOutcome.UNVERIFIED)
    assert answer.supported == (answer.outcome is AnswerOutcome.ANSWERED)


def test_unrelated_question_is_not_supported_and_offers_nothing_invented(answerer):
    answer = answerer.ask(
        "What is the capital of Australia?", options=AskOptions(max_answer_tokens=48)
    )
    assert answer.supported is False and answer.citations == ()
    assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS
    assert answer.answer == "The documents do not contain the answer to this question."


def test_empty_collection_and_overlong_question_give_honest_answers(answerer, small_host, tmp_path):
    with KnowledgeBase.open(tmp_path, "empty") as empty:
        answer = Answerer(empty, small_host).ask("What is the rent?")
    assert answer.supported is False and "no documents" in answer.answer
    assert answer.outcome is AnswerOutcome.REFUSED
    answer = answerer.ask("rent? " * 2000)
    assert (
        answer.supported is False
        and "too long" in answer.answer
        and answer.to_json()["citations"] == []
    )
    assert answer.outcome is AnswerOutcome.REFUSED and answer.to_json()["outcome"] == "refused"
    assert "过长" in answerer.ask("租金？" * 2000).answer  # a Chinese question is told in Chinese


def test_cancel_between_tokens(answerer):
    cancel = CancelToken()

    def stop_after_first(_piece):
        cancel.cancel()

    with pytest.raises(Cancelled):
        answerer.ask(
            "Summarise the rent clause.",
            options=AskOptions(max_answer_tokens=200),
            on_token=stop_after_first,
            cancel=cancel,
        )


class FixedModel:
    """Stands in for the model so the correction path is deterministic: this test is about mapping."""

    model_name = "fixed"
    n_ctx = 4096
    adapter = None

    def __init__(self, text):
        self.text = text

    def count_tokens(self, text):
        return len(text) // 3 + 1

    def format_chat(self, messages):
        self.messages = messages
        return "\n".join(m["content"] for m in messages)

    def stream(self, prompt, **_):
        yield from self.text.split(" ")[:1] + [" " + w for w in self.text.split(" ")[1:]]

    def complete(self, prompt, **kw):
        return "".join(self.stream(prompt, **kw))

    def set_adapter(self, path, scale=1.0):
        assert path is None


# The tests below are about the one-prompt answer and its checks (the re-ask, the quotation,
# citation correction); test_evidence_select.py covers choosing the evidence first.
SINGLE = AskOptions(evidence_first=False)
EVIDENCE_FIRST = AskOptions(evidence_first=True)


def test_miscited_sentence_is_moved_to_the_passage_that_supports_it(lease_kb):
    probe = FixedModel("")
    Answerer(lease_kb, probe).ask("When is the security deposit returned?", options=SINGLE)
    sources = probe.messages[-1]["content"]
    n_deposit = next(
        int(line[1])
        for line in sources.splitlines()
        if line.startswith("[") and "lease.pdf, page 3" in line
    )
    wrong = 1 if n_deposit != 1 else 2
    model = FixedModel(
        f"The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates [{wrong}]. [9]"
    )
    answer = Answerer(lease_kb, model).ask("When is the security deposit returned?", options=SINGLE)
    assert answer.supported and [c.page for c in answer.citations] == [3]
    assert f"[{n_deposit}]" in answer.answer and "[9]" not in answer.answer
    assert answer.sentences[0].corrected


def test_follow_up_is_rewritten_and_chats_are_saved(answerer, lease_kb):
    history = [
        {"role": "user", "content": "What does the lease say about rent?"},
        {"role": "assistant", "content": "The monthly rent is 8,400 dollars [1]."},
    ]
    standalone = answerer.standalone_question("And the late fee?", history)
    assert standalone and standalone != "And the late fee?"
    store = ChatStore(lease_kb.folder)
    chat = store.new()
    answer = answerer.ask(
        "What is the capital of Australia?", options=AskOptions(max_answer_tokens=32)
    )
    store.append(chat, answer)
    assert store.history(chat)[0] == {
        "role": "user",
        "content": "What is the capital of Australia?",
    }
    assert [c.id for c in store.list()] == [chat]


def test_summarise_a_named_document_reads_all_of_it_with_progress(answerer, lease_kb):
    from kbdesk.core.generate.summarise import find_document_task

    docs = lease_kb.documents()
    assert find_document_task("Summarise the lease", docs).name == "lease.pdf"
    assert find_document_task("请总结一下术后护理须知", docs).name == "术后护理须知.pdf"
    assert find_document_task("What does the lease say about rent?", docs) is None
    steps = []
    answer = answerer.ask(
        "Summarise lease.pdf", options=AskOptions(temperature=0.0), progress=steps.append
    )
    assert answer.answer and answer.supported
    assert steps[-1].stage == "summarising" and steps[-1].done == steps[-1].total
    assert all(c.document == "lease.pdf" and 1 <= c.page <= 3 for c in answer.citations)
    assert "Summary of all" in answer.notice


@pytest.mark.parametrize(
    "output",
    [
        "",
        "   ",
        "[1][2]",
        "[abc] [0] [99]",
        "【】",
        "NOT_IN_DOCUMENTS",
        "The documents do not contain the answer.",
        "文档中没有找到答案。",
    ],
)
def test_empty_or_malformed_model_output_still_gives_an_honest_answer(lease_kb, output):
    # The documents do not say where the tenant may park: nothing to quote, an honest decline.
    for options in (SINGLE, EVIDENCE_FIRST):  # the output as the answer, or as the evidence chosen
        answer = Answerer(lease_kb, FixedModel(output)).ask(
            "Where may the tenant park a second car?", options=options
        )
        assert answer.supported is False and answer.citations == ()
        assert answer.answer == "The documents do not contain the answer to this question."
        assert answer.nearest and answer.nearest[0].document == "lease.pdf"
        assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS
        assert set(answer.to_json()) == {
            "answer",
            "outcome",
            "citations",
            "supported",
            "model",
            "adapter",
            "evidence",
        }


@pytest.mark.parametrize("output", ["", "The documents do not contain the answer.", "[1][2]"])
def test_a_declined_question_whose_answer_a_passage_states_gets_that_sentence_quoted(
    lease_kb, output
):
    answer = Answerer(lease_kb, FixedModel(output)).ask(
        "When is the security deposit returned?", options=SINGLE
    )
    assert answer.outcome is AnswerOutcome.QUOTED and answer.supported is False
    (cited,) = answer.citations
    assert (cited.document, cited.page) == ("lease.pdf", 3)
    assert "returned within 30 days" in cited.quote and cited.quote in cited.text
    ((a, b),) = cited.quote_spans
    assert cited.text[a:b] == cited.quote
    assert answer.answer.startswith("The model did not find an answer; the closest passage says:")
    assert f"“{cited.quote}” [1]" in answer.answer and "quotation" in answer.notice
    chinese = Answerer(lease_kb, FixedModel(output)).ask("押金什么时候退还？", options=SINGLE)
    assert chinese.outcome in (AnswerOutcome.QUOTED, AnswerOutcome.NOT_IN_DOCUMENTS)
    if chinese.outcome is AnswerOutcome.QUOTED:
        assert chinese.answer.startswith("模型没有找到答案")


class ScriptedModel(FixedModel):
    """Replies with each text in turn: a decline first, then what the re-ask gets."""

    def __init__(self, *texts):
        super().__init__(texts[0])
        self.texts = list(texts)
        self.prompts = []

    def format_chat(self, messages):
        self.prompts.append(messages)
        return super().format_chat(messages)

    def stream(self, prompt, **kw):
        self.text = self.texts.pop(0) if self.texts else ""
        yield from super().stream(prompt, **kw)


def test_a_decline_is_asked_again_with_the_closest_passage_and_kept_when_it_is_supported(lease_kb):
    model = ScriptedModel(
        "The documents do not contain the answer.",
        "The security deposit is returned within 30 days after the tenant vacates [1].",
    )
    answer = Answerer(lease_kb, model).ask("When is the security deposit returned?", options=SINGLE)
    assert answer.outcome is AnswerOutcome.ANSWERED and answer.supported
    ((cited),) = answer.citations
    assert (cited.document, cited.page) == ("lease.pdf", 3)
    system, user = model.prompts[-1][0]["content"], model.prompts[-1][-1]["content"]
    assert "cannot" not in system and "do not contain" not in system  # no way out this time
    assert user.count("\n[") == 1 and "[2]" not in user  # the one closest passage


def test_a_re_asked_answer_the_passage_does_not_back_is_thrown_away(lease_kb):
    model = ScriptedModel(
        "The documents do not contain the answer.",
        "Tenants may park two electric cars in the basement garage free of charge [1].",
    )
    answer = Answerer(lease_kb, model).ask(
        "Where may the tenant park a second car?", options=SINGLE
    )
    assert answer.outcome in (AnswerOutcome.NOT_IN_DOCUMENTS, AnswerOutcome.QUOTED)
    assert "electric cars" not in answer.answer


def _after_a_decline(kb, reply: str, question: str = "When is the security deposit returned?"):
    """The answer when the model declines first and the re-ask gets `reply`."""
    model = ScriptedModel("The documents do not contain the answer.", reply)
    return Answerer(kb, model).ask(question, options=SINGLE)


def test_a_re_asked_answer_keeps_its_sentences_up_to_the_first_unsupported_one(lease_kb):
    answer = _after_a_decline(
        lease_kb,
        "The security deposit is returned within 30 days after the tenant vacates [1]. "
        "This is stated in clause 17 of the notarised annex, which the tenant signed [1].",
    )
    assert answer.outcome is AnswerOutcome.ANSWERED and answer.notice is None
    assert "30 days" in answer.answer and "annex" not in answer.answer
    # a first sentence the passage does not back leaves nothing to keep
    answer = _after_a_decline(
        lease_kb, "It is returned after the notary signs the annex [1]. It takes 30 days [1]."
    )
    assert answer.outcome in (AnswerOutcome.NOT_IN_DOCUMENTS, AnswerOutcome.QUOTED)


def test_a_re_asked_answer_is_kept_only_if_the_last_checks_verify_it(lease_kb):
    # Supported by overlap, but it names an address the passage does not hold: a forced answer
    # is shown only when verified, never as an unverified guess.
    answer = _after_a_decline(
        lease_kb,
        "The security deposit of 25,200 dollars is returned within 30 days after the tenant "
        "vacates, by transfer from deposits@harbor-point.example [1].",
    )
    assert answer.outcome in (AnswerOutcome.NOT_IN_DOCUMENTS, AnswerOutcome.QUOTED)
    assert "harbor-point" not in answer.answer


def test_the_prompt_reads_the_body_after_a_heading_in_sentence_windows(
    small_host, data_dir, tmp_path, monkeypatch
):
    from tests.core.search.test_answer_context import kb_with_small_chunks

    prompts: list[str] = []
    real_format = small_host.format_chat

    def recording(messages):
        prompts.append("\n".join(m["content"] for m in messages))
        return real_format(messages)

    monkeypatch.setattr(small_host, "format_chat", recording)
    small_host.set_adapter(None)
    with kb_with_small_chunks(data_dir, tmp_path / "docs") as kb:
        answer = Answerer(kb, small_host).ask(
            "How are patient records opened when staff work from home?",
            options=replace(SINGLE, max_answer_tokens=64, temperature=0.0, reading_budget=150),
        )
    assert "encrypted remote desktop" in prompts[0]
    # Far from the question, on a page search ranked below the answer's: left out. (The
    # answer's own page goes first: its other sentences may fill what the budget has left.)
    assert "Holiday requests" not in prompts[0]
    assert "…" in prompts[0]
    for citation in answer.citations:  # citations keep whole passages, for highlighting
        assert len(citation.text) >= len(citation.quote or "")


def test_names_no_passage_holds_are_unmentioned(lease_kb):
    assert lease_kb.unmentioned("What does the lease say about Flatpak and Wharf Street?") == [
        "Flatpak"
    ]
    assert (
        lease_kb.unmentioned("Who is the Tenant under the lease-agreement of Harbor-Point?") == []
    )
    assert lease_kb.unmentioned("Is the NDA signed?") == ["NDA"]
    assert lease_kb.unmentioned("Is the CLA signed?", ["Commercial Lease Agreement"]) == []


def test_a_question_about_something_the_documents_never_name_is_declined_unasked(
    lease_kb, tmp_path
):
    from tests.helpers import LEASE_PAGES, make_pdf

    # close to the lease's deposit clause, so the relevance floor alone would let it through
    model = FixedModel("The security deposit is returned through PayPal within 30 days [1].")
    chinese = Answerer(lease_kb, model).ask("押金会通过 PayPal 退还给租户吗？")
    assert chinese.outcome is AnswerOutcome.NOT_IN_DOCUMENTS and not hasattr(model, "messages")
    assert chinese.notice == "您的文档中从未提到 “PayPal”。"
    question = "Is the security deposit returned to the tenant through PayPal?"
    # An English question is not judged where Chinese passages answer: names are translated.
    assert Answerer(lease_kb, model).ask(question).outcome is not AnswerOutcome.NOT_IN_DOCUMENTS
    make_pdf(tmp_path / "docs" / "lease.pdf", LEASE_PAGES)
    with KnowledgeBase.open(tmp_path / "kb", "en", embedder="use-multilingual") as english:
        assert english.import_paths([tmp_path / "docs"]).ok
        answer = Answerer(english, FixedModel("")).ask(question)
    assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS
    assert answer.notice == "Your documents never mention “PayPal”."


LICENCE_1_1 = [
    "Harbor Software Licence v1.1\n\n1. Grant. The Licensor grants a worldwide, royalty-free "
    "licence to use, copy and modify the Work.\n\n2. Liability. The Licensor is not liable for "
    "damage caused by the use of the Work.",
]
LICENCE_1_2 = [
    "Harbor Software Licence v1.2\n\n1. Grant. The Licensor grants a worldwide, royalty-free "
    "licence to use, copy and modify the Work.\n\n2. Liability. Except for wilful misconduct, "
    "the Licensor is not liable for damage caused by the use of the Work.\n\nAppendix. The compatible licences are the GNU "
    "General Public License v3 and the Mozilla Public Licence v2.",
]
APPENDIX_1_1 = "Which licences does the appendix of the Harbor Software Licence v1.1 list?"


@pytest.fixture(scope="module")
def licences_kb(tmp_path_factory):
    """Two versions of one licence; only v1.2 has an appendix (real PDFs, USE)."""
    from tests.helpers import make_pdf

    folder = tmp_path_factory.mktemp("licences")
    make_pdf(folder / "harbor-licence-1.1.pdf", LICENCE_1_1, title="Harbor Software Licence v1.1")
    make_pdf(folder / "harbor-licence-1.2.pdf", LICENCE_1_2, title="Harbor Software Licence v1.2")
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("kb"), "l", embedder="use-multilingual")
    assert kb.import_paths([folder]).ok
    yield kb
    kb.close()


def _source_number(kb, question: str, document: str) -> int:
    """The number the answer prompt gives the first passage of `document`."""
    probe = ScriptedModel("")
    Answerer(kb, probe).ask(question, options=SINGLE)
    lines = probe.prompts[0][-1]["content"].splitlines()  # not the re-ask after the decline
    return next(int(line[1]) for line in lines if line.startswith("[") and document in line)


def test_an_answer_from_another_version_than_the_question_names_is_declined(licences_kb):
    def appendix(n: int) -> FixedModel:
        return FixedModel(
            "The appendix lists the GNU General Public License v3 and the Mozilla Public "
            f"Licence v2 as compatible licences [{n}]."
        )

    n = _source_number(licences_kb, APPENDIX_1_1, "1.2.pdf")
    answer = Answerer(licences_kb, appendix(n)).ask(APPENDIX_1_1, options=SINGLE)
    assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS and not answer.citations
    assert answer.notice == (
        "The passages that answer this are from harbor-licence-1.2.pdf, not version 1.1, which "
        "the question asks about."
    )
    assert answer.nearest[0].document == "harbor-licence-1.2.pdf"  # what the other one says
    # The same answer to the question about v1.2 stands.
    asked = APPENDIX_1_1.replace("v1.1", "v1.2")
    n = _source_number(licences_kb, asked, "1.2.pdf")
    assert Answerer(licences_kb, appendix(n)).ask(asked, options=SINGLE).outcome is (
        AnswerOutcome.ANSWERED
    )


def _handbook(site: str, hours: str) -> list[str]:
    return [
        f"Clinic Handbook {site}\n\n1. Visiting hours. Visitors are welcome on the wards from "
        f"{hours} every day.\n\n2. Parking. Patients park free of charge for the first hour."
    ]


def test_an_answer_from_the_look_alike_of_the_document_asked_about_is_declined(tmp_path):
    """Two handbooks whose names differ in one word: the question names one by that word, the
    answer cites the other's look-alike clause with its other hours."""
    from tests.helpers import make_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    for site, hours in (("Riverside", "10:00 to 18:00"), ("Lakeside", "9:00 to 20:00")):
        make_pdf(
            folder / f"clinic-handbook-{site.lower()}.pdf",
            _handbook(site, hours),
            title=f"Clinic Handbook {site}",
        )
    question = "What are the visiting hours in the Lakeside handbook?"
    with KnowledgeBase.open(tmp_path / "kb", "h", embedder="use-multilingual") as kb:
        assert kb.import_paths([folder]).ok
        n = _source_number(kb, question, "riverside.pdf")
        wrong = FixedModel(
            f"Visitors are welcome on the wards from 10:00 to 18:00 every day [{n}]."
        )
        answer = Answerer(kb, wrong).ask(question, options=SINGLE)
        assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS and not answer.citations
        assert answer.notice == (
            "The passages that answer this are from clinic-handbook-riverside.pdf, not "
            "clinic-handbook-lakeside.pdf, which the question asks about."
        )
        n = _source_number(kb, question, "lakeside.pdf")
        right = FixedModel(f"Visitors are welcome on the wards from 9:00 to 20:00 every day [{n}].")
        answer = Answerer(kb, right).ask(question, options=SINGLE)
        assert answer.outcome is AnswerOutcome.ANSWERED
        assert {c.document for c in answer.citations} == {"clinic-handbook-lakeside.pdf"}


def test_a_clause_both_versions_state_is_cited_in_the_version_asked_about(licences_kb):
    question = "Under the Harbor Software Licence v1.1, is the Licensor liable for damage?"
    n = _source_number(licences_kb, question, "1.2.pdf")
    model = FixedModel(
        f"The Licensor is not liable for damage caused by the use of the Work [{n}]."
    )
    answer = Answerer(licences_kb, model).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.ANSWERED
    assert {c.document for c in answer.citations} == {"harbor-licence-1.1.pdf"}
    assert (
        answer.citations[0].quote
        == "The Licensor is not liable for damage caused by the use of the Work."
    )


def test_the_real_model_never_gives_another_versions_appendix_as_verified(licences_kb, small_host):
    small_host.set_adapter(None)
    answer = Answerer(licences_kb, small_host).ask(
        APPENDIX_1_1, options=replace(SINGLE, max_answer_tokens=96, temperature=0.0)
    )
    cited = {c.document for c in answer.citations}
    assert not (answer.outcome is AnswerOutcome.ANSWERED and cited == {"harbor-licence-1.2.pdf"})


def test_a_supported_answer_whose_words_its_quote_does_not_hold_is_not_verified(lease_kb):
    question = "When is the security deposit returned?"
    n = _source_number(lease_kb, question, "lease.pdf, page 3")
    said = (
        "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates"
    )
    right = FixedModel(f"{said} [{n}].")
    answer = Answerer(lease_kb, right).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.ANSWERED and answer.nearest == ()
    padded = FixedModel(
        f"{said}, once the landlord's inspector signs the checkout report and the keys are "
        f"handed to the building manager [{n}]."
    )
    answer = Answerer(lease_kb, padded).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.UNVERIFIED and not answer.supported
    assert answer.notice == say("doubted_words", "en") and answer.nearest


def test_an_answer_naming_an_address_its_quote_does_not_hold_is_not_verified(lease_kb):
    question = "When is the security deposit returned?"
    n = _source_number(lease_kb, question, "lease.pdf, page 3")
    model = FixedModel(
        "The security deposit of 25,200 dollars is returned within 30 days after the tenant "
        f"vacates, by transfer from deposits@harbor-point.example [{n}]."
    )
    answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.UNVERIFIED and answer.nearest
    assert answer.notice == say("names_unquoted", "en", names="“deposits@harbor-point.example”")


def test_an_answer_that_only_repeats_the_question_is_not_verified(lease_kb):
    question = "Is the security deposit returned after the tenant vacates?"
    n = _source_number(lease_kb, question, "lease.pdf, page 3")
    model = FixedModel(f"Yes, the security deposit is returned after the tenant vacates [{n}].")
    answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.UNVERIFIED and not answer.supported
    assert answer.notice == say("restated", "en") and answer.nearest
    model = FixedModel(f"Yes, it is returned within 30 days after the tenant vacates [{n}].")
    answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.ANSWERED


def test_a_re_asked_answer_that_only_repeats_the_question_is_not_kept(lease_kb):
    model = ScriptedModel(
        "The documents do not contain the answer.",
        "Yes, the security deposit is returned after the tenant vacates [1].",
    )
    question = "Is the security deposit returned after the tenant vacates?"
    answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
    assert answer.outcome in (AnswerOutcome.NOT_IN_DOCUMENTS, AnswerOutcome.QUOTED)


class JudgingModel(FixedModel):
    """A fixed answer, judged with fixed odds under the default model's name: these tests are
    about what the answerer does with the model's odds (test_answers_large.py measures them)."""

    model_name = BUILTIN_MODELS["large"].file.removesuffix(".gguf")

    def __init__(self, text, odds):
        super().__init__(text)
        self.odds = odds
        self.judged: list[str] = []

    def choice_odds(self, prompt, first, second, cancel=None):
        self.judged.append(prompt)
        return self.odds


def test_the_models_odds_verify_doubt_or_decline_a_supported_answer(lease_kb):
    question = "When is the security deposit returned?"
    n = _source_number(lease_kb, question, "lease.pdf, page 3")
    said = (
        "The security deposit of 25,200 dollars is returned within 30 days after the tenant "
        f"vacates [{n}]."
    )
    floors = BUILTIN_MODELS["large"].check_odds
    outcomes = {}
    for odds in (floors.doubt + 0.05, floors.doubt - 0.05, floors.decline - 0.05):
        model = JudgingModel(said, odds)
        answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
        assert len(model.judged) == 1 and "returned within 30 days" in model.judged[0]
        outcomes[odds] = (answer.outcome, answer.notice)
    assert list(outcomes.values()) == [
        (AnswerOutcome.ANSWERED, None),
        (AnswerOutcome.UNVERIFIED, say("doubted_by_model", "en")),
        (AnswerOutcome.NOT_IN_DOCUMENTS, say("doubted_declined", "en")),
    ]
    declined = Answerer(lease_kb, JudgingModel(said, floors.decline - 0.05)).ask(
        question, options=SINGLE
    )
    assert declined.answer == say("declined", "en") and declined.citations == ()
    assert (declined.nearest[0].document, declined.nearest[0].page) == ("lease.pdf", 3)


def test_an_answer_that_cites_nothing_is_judged_against_the_closest_sentence(lease_kb):
    question = "When is the security deposit returned?"
    floors = BUILTIN_MODELS["large"].check_odds
    invented = "It is returned once the landlord's inspector signs the checkout report."
    model = JudgingModel(invented, floors.decline + 0.05)
    answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.UNVERIFIED and answer.citations == ()
    assert answer.notice == say("unverified", "en")
    assert len(model.judged) == 1 and "returned within 30 days" in model.judged[0]
    model = JudgingModel(invented, floors.decline - 0.05)
    answer = Answerer(lease_kb, model).ask(question, options=SINGLE)
    assert answer.outcome is AnswerOutcome.NOT_IN_DOCUMENTS
    assert answer.notice == say("doubted_declined", "en")
