"""The assistant service with the real 0.5B model: settings, chats and history, model loading."""

from __future__ import annotations

import pytest

from kbdesk.core.assistant import NEW_CHAT, Assistant, ModelCache
from kbdesk.core.errors import Cancelled, ModelMissing, Remedy
from kbdesk.core.jobs import CancelToken
from kbdesk.core.settings import Settings
from kbdesk.core.types import AnswerOutcome, Stage

QUESTION = "When is the security deposit returned?"


@pytest.fixture(scope="module")
def models(small_model):
    cache = ModelCache(small_model.parent)
    yield cache
    cache.close()


@pytest.fixture
def assistant(lease_kb, models, small_model):
    settings = Settings(model=str(small_model), passages=2, temperature=0.0)
    return Assistant(lease_kb, settings, models)


def test_settings_choose_the_model_the_passages_and_the_temperature(assistant, monkeypatch):
    searched = []
    read = assistant.kb.answer_context
    monkeypatch.setattr(
        assistant.kb,
        "answer_context",
        lambda q, pages, **kw: searched.append(pages) or read(q, pages, **kw),
    )
    reply = assistant.ask(QUESTION)
    assert searched == [2]  # the Passages setting: how many pages the answer draws on
    assert reply.answer.model.startswith("qwen2.5-coder-0.5b") and reply.chat_id is None
    options = assistant.options()
    assert (options.passages, options.temperature, options.adapter) == (2, 0.0, None)
    again = assistant.ask(QUESTION)  # temperature 0 from the settings: the same answer again
    assert again.answer.to_json() == reply.answer.to_json()


def test_a_saved_chat_continues_with_its_history_and_leaves_refusals_out(assistant):
    first = assistant.ask(QUESTION, chat=NEW_CHAT)
    chat = first.chat_id
    assert chat is not None and assistant.chats.list()[0].id == chat
    empty = assistant.ask("   ", chat=chat)
    assert empty.answer.outcome is AnswerOutcome.REFUSED and empty.chat_id is None
    long = assistant.ask("deposit? " * 600, chat=chat)
    assert long.answer.outcome is AnswerOutcome.REFUSED and long.chat_id == chat
    assert len(assistant.chats.load(chat)) == 2  # the over-long question is kept, the empty one not
    history = assistant.chats.history(chat)
    assert [m["content"] for m in history] == [QUESTION, first.answer.answer]
    follow = assistant.ask("And how much is it?", chat=chat)
    assert follow.chat_id == chat and len(assistant.chats.load(chat)) == 3
    saved = assistant.chats.answers(chat)
    assert [a.outcome for a in saved][:2] == [first.answer.outcome, AnswerOutcome.REFUSED]


def test_asking_without_a_chat_saves_nothing(assistant):
    before = assistant.chats.list()
    assert assistant.ask(QUESTION).chat_id is None
    assert assistant.chats.list() == before


def test_loading_reports_progress_once_and_a_cancel_stops_it(small_model):
    cache = ModelCache(small_model.parent)
    try:
        cancel = CancelToken()
        cancel.cancel()
        with pytest.raises(Cancelled):
            cache.host(str(small_model), cancel=cancel)
        seen = []
        host = cache.host(str(small_model), progress=seen.append)
        assert host.loaded and seen and {p.stage for p in seen} == {Stage.LOADING_MODEL}
        shares = [p.done / p.total for p in seen]
        assert shares == sorted(shares) and shares[-1] == 1.0
        assert 0.9 <= shares[-2] <= 0.96  # the read ends at 95%; llama.cpp's start is the rest
        again = []
        assert cache.host(str(small_model), progress=again.append) is host and again == []
    finally:
        cache.close()


def test_the_search_stage_follows_the_model(assistant):
    stages = []
    assistant.ask(QUESTION, progress=lambda p: stages.append(p.stage))
    assert Stage.SEARCHING in stages


def test_a_missing_model_is_an_error_with_a_remedy(lease_kb, models, tmp_path):
    settings = Settings(model=str(tmp_path / "nowhere.gguf"))
    with pytest.raises(ModelMissing) as err:
        Assistant(lease_kb, settings, models).ask(QUESTION)
    assert "nowhere.gguf" in str(err.value) and err.value.remedy is Remedy.ADD_MODEL_FILE


@pytest.mark.parametrize(
    "pieces, shown",
    [
        (["NOT_", "IN_DOC", "UMENTS"], ""),
        ([" NOT", "_IN_DOCUMENTS\n"], ""),
        (["NOT", " really"], "NOT really"),
        (["The deposit", " is 5,000 [1]."], "The deposit is 5,000 [1]."),
    ],
)
def test_the_stream_never_shows_the_internal_marker(pieces, shown):
    from kbdesk.core.assistant import SentinelFilter

    seen: list[str] = []
    stream = SentinelFilter(seen.append)
    for piece in pieces:
        stream(piece)
    assert "".join(seen) == shown


def test_the_evidence_first_setting_reaches_the_answer(lease_kb, models, small_model):
    settings = Settings(model=str(small_model), temperature=0.0, evidence_first=True)
    assistant = Assistant(lease_kb, settings, models)
    assert assistant.options().evidence_first and not Settings().evidence_first
    reply = assistant.ask(QUESTION)
    if reply.answer.outcome is AnswerOutcome.ANSWERED:  # rests on the sentences it chose
        chosen = {(e.document, e.page, e.text) for e in reply.answer.evidence}
        assert chosen and {(c.document, c.page) for c in reply.answer.citations} <= {
            (d, p) for d, p, _ in chosen
        }
