"""Training data: the written-example filter, users' question files, the held-out split, RAFT."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.generate.prompt import DECLINE_SENTENCE, NO_RAG_SYSTEM_PROMPT, SYSTEM_PROMPT
from kbdesk.core.tune.dataset import cite_sentences, raft_conversations, split_by_passage
from kbdesk.core.tune.examples import (
    Dropped,
    Example,
    FilterReport,
    check_example,
    parse_reply,
    write_examples,
)
from kbdesk.core.tune.pairs import PairFileError, read_pairs
from kbdesk.core.tune.settings import TuneSettings
from kbdesk.core.types import Hit

PASSAGE = (
    "The Tenant shall pay a security deposit of EUR 4,500 within ten days of signing.\n"
    "The deposit is returned within 30 days after the keys are handed back."
)


def test_a_reply_is_read_as_the_first_json_object_even_inside_chatter():
    reply = 'Sure! Here it is:\n```json\n{"question": "Q?", "answer": "A.", "quote": "x"}\n```'
    assert parse_reply(reply) == {"question": "Q?", "answer": "A.", "quote": "x"}
    assert parse_reply("no json here") is None
    assert parse_reply('{"broken": ') is None


@pytest.mark.parametrize(
    ("parsed", "reason"),
    [
        (None, Dropped.UNREADABLE),
        ({"question": "How much?", "answer": "", "quote": "x"}, Dropped.EMPTY),
        (
            {
                "question": "What does this passage say about the deposit?",
                "answer": "a",
                "quote": "b",
            },
            Dropped.LEANING,
        ),
        ({"question": "上文提到的押金是多少？", "answer": "a", "quote": "b"}, Dropped.LEANING),
        (
            {"question": "押金为4500欧元。", "answer": "押金为4500欧元。", "quote": "b"},
            Dropped.NOT_A_QUESTION,
        ),
        (
            {"question": "Deposit rules", "answer": "EUR 4,500.", "quote": "EUR 4,500"},
            Dropped.NOT_A_QUESTION,
        ),
        (
            {"question": "How large is the deposit?", "answer": "EUR 4,500.", "quote": "EUR 5,000"},
            Dropped.QUOTE,
        ),
    ],
)
def test_each_kind_of_bad_example_is_dropped_for_its_reason(parsed, reason):
    assert check_example(parsed, PASSAGE, set()) == reason


def test_a_verbatim_quote_across_a_line_break_is_kept_and_a_repeat_is_not():
    parsed = {
        "question": "How large is the security deposit under the lease?",
        "answer": "EUR 4,500.",
        "quote": "within ten days of signing. The deposit is returned",  # spans the line break
    }
    assert check_example(parsed, PASSAGE, set()) is None
    seen = {"how large is the security deposit under the lease?"}
    assert check_example(parsed, PASSAGE, seen) == Dropped.DUPLICATE


class ScriptedHost:
    """Stands in for the model's replies: the filter, not the model, is under test here."""

    def __init__(self, replies):
        self.replies = list(replies)

    def format_chat(self, messages):
        return messages[-1]["content"]

    def complete(self, prompt, **kw):
        return self.replies.pop(0)


def test_writing_counts_what_was_kept_and_why_the_rest_was_dropped():
    chunk = SimpleNamespace(id=7, text=PASSAGE, document="lease.pdf", page=2)
    good = json.dumps(
        {
            "question": "When is the deposit returned?",
            "answer": "Within 30 days.",
            "quote": "The deposit is returned within 30 days",
        }
    )
    report = FilterReport()
    kept = list(write_examples(ScriptedHost([good, "oops", good]), [chunk] * 3, report))
    assert [(e.chunk_id, e.page, e.document) for e in kept] == [(7, 2, "lease.pdf")]
    assert report.to_json() == {
        "written": 3,
        "kept": 1,
        "quote_repaired": 0,
        "dropped": {Dropped.UNREADABLE: 1, Dropped.DUPLICATE: 1},
    }
    assert "1 of 3 examples kept" in report.summary()


def example(chunk_id: int, n: int = 0, language: str = "en") -> Example:
    return Example(
        f"Question {chunk_id}-{n}?",
        "The answer is ten days.",
        "ten days",
        chunk_id,
        "lease.pdf",
        1,
        language,
    )


def test_the_split_holds_out_whole_passages_and_is_repeatable():
    examples = [example(c, n) for c in range(10) for n in range(2)]
    split = split_by_passage(examples, share=0.2, seed=3)
    held = {e.chunk_id for e in split.held_out}
    assert len(held) == 2
    assert not held & {e.chunk_id for e in split.train}
    assert len(split.train) + len(split.held_out) == len(examples)
    assert split_by_passage(examples, share=0.2, seed=3) == split
    again = type(split).from_json(json.loads(json.dumps(split.to_json())))
    assert again == split


def hit(chunk_id: int, text: str = "Some other clause.") -> Hit:
    return Hit(1, 1.0, chunk_id, 1, "lease.pdf", "/x/lease.pdf", 3, text)


def test_raft_conversations_use_the_answer_prompt_cite_the_source_or_decline():
    examples = [example(c) for c in range(40)] + [
        example(100 + c, language="zh") for c in range(10)
    ]
    conversations = raft_conversations(
        examples,
        passage_of=lambda e: hit(e.chunk_id, f"Gold passage {e.chunk_id}: ten days."),
        distractors_of=lambda e: [hit(e.chunk_id), hit(1000 + e.chunk_id), hit(2000), hit(3000)],
        seed=1,
    )
    grounded = [c for c in conversations if c[0]["content"] == SYSTEM_PROMPT]
    closed = [c for c in conversations if c[0]["content"] == NO_RAG_SYSTEM_PROMPT]
    assert len(grounded) == len(examples) and closed
    declined = [c for c in grounded if c[-1]["content"] in DECLINE_SENTENCE.values()]
    assert 0 < len(declined) < len(grounded) / 2
    for conv in grounded:
        user, answer = conv[1]["content"], conv[-1]["content"]
        assert user.count("\n[") + user.startswith("[") >= 3  # the hard negatives are there
        if answer in DECLINE_SENTENCE.values():
            assert "Gold passage" not in user
            continue
        n = int(answer.rsplit("[", 1)[1].split("]")[0])
        assert f"[{n}] lease.pdf, page 3:\nGold passage" in user  # cites where the gold sits
    for conv in declined:  # in the question's language
        number = int(conv[1]["content"].split("Question: Question ")[1].split("-")[0])
        assert conv[-1]["content"] == DECLINE_SENTENCE["zh" if number >= 100 else "en"]


def test_each_sentence_of_an_answer_is_cited_before_its_full_stop():
    assert cite_sentences("It is the CJEU. See Art. 272 of the Treaty.", 2) == (
        "It is the CJEU [2]. See Art. 272 of the Treaty [2]."
    )
    assert cite_sentences("由欧盟法院管辖。", 1) == "由欧盟法院管辖 [1]。"


def test_question_files_report_every_bad_line(tmp_path):
    good = tmp_path / "q.jsonl"
    good.write_text(
        '{"question": "Who pays?", "answer": "The tenant."}\n\n'
        '{"question": "Is parking included?", "answer": ""}\n',
        encoding="utf-8",
    )
    pairs = read_pairs(good)
    assert [(p.line, p.answerable) for p in pairs] == [(1, True), (3, False)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": ""}\nnot json\n[1, 2]\n{"question": "Q", "answer": 5}\n')
    with pytest.raises(PairFileError) as err:
        read_pairs(bad)
    assert [p.split(":")[0] for p in err.value.problems] == ["line 1", "line 2", "line 3", "line 4"]
    assert "not valid JSON" in str(err.value)
    csv_file = tmp_path / "q.csv"
    csv_file.write_text('Question,Answer\n"Who pays, and when?",The tenant\n,x\n', encoding="utf-8")
    with pytest.raises(PairFileError, match="line 3: the question is missing"):
        read_pairs(csv_file)
    headless = tmp_path / "h.csv"
    headless.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(PairFileError, match='needs a "question" column'):
        read_pairs(headless)
    with pytest.raises(InvalidSetting, match="must be .csv or .jsonl"):
        read_pairs(tmp_path / "q.txt") if (tmp_path / "q.txt").write_text("x") else None
    latin = tmp_path / "l.csv"
    latin.write_bytes("question,answer\ncaf\xe9,x\n".encode("latin-1"))
    with pytest.raises(InvalidSetting, match="not UTF-8"):
        read_pairs(latin)


def test_training_settings_are_validated_with_their_limits():
    assert TuneSettings().to_json()["modules"][0] == "q_proj"
    with pytest.raises(InvalidSetting, match="rank must be 1-256"):
        TuneSettings(rank=0)
    with pytest.raises(InvalidSetting, match="unknown: lm_head"):
        TuneSettings(modules=("q_proj", "lm_head"))
    assert TuneSettings.from_json({"rank": 4, "modules": ["v_proj"], "extra": 1}).rank == 4


def test_a_written_unanswerable_question_is_kept_only_when_no_passage_comes_close():
    from kbdesk.core.tune.examples import write_unanswerable

    chunk = SimpleNamespace(id=7, text=PASSAGE, document="lease.pdf", page=2)
    reply = json.dumps({"question": "May the tenant sublet the premises under the lease?"})
    seen: set[str] = set()
    kept = write_unanswerable(ScriptedHost([reply]), chunk, lambda q: 0.3, seen)
    assert kept == {
        "question": "May the tenant sublet the premises under the lease?",
        "document": "lease.pdf",
        "page": 2,
    }
    assert write_unanswerable(ScriptedHost([reply]), chunk, lambda q: 0.3, seen) is None  # repeat
    other = json.dumps({"question": "When is the deposit returned under the lease?"})
    assert write_unanswerable(ScriptedHost([other]), chunk, lambda q: 0.8, seen) is None
    leaning = json.dumps({"question": "What does this passage not say?"})
    assert write_unanswerable(ScriptedHost([leaning]), chunk, lambda q: 0.1, seen) is None


def test_a_paraphrased_quote_is_replaced_by_the_passage_sentence_that_supports_the_answer():
    from kbdesk.core.embed import create_embedder
    from kbdesk.core.tune.examples import supporting_sentence
    from kbdesk.core.tune.pipeline import REPAIR_THRESHOLD

    checker = create_embedder("use-multilingual")
    repair = supporting_sentence(checker, REPAIR_THRESHOLD)
    chunk = SimpleNamespace(id=7, text=PASSAGE, document="lease.pdf", page=2)
    paraphrased = json.dumps(
        {
            "question": "When does the landlord give the deposit back?",
            "answer": "The deposit is returned within 30 days after the keys are handed back.",
            "quote": "Deposits come back a month after the keys are returned.",
        }
    )
    unrelated = json.dumps(
        {
            "question": "Who cleans the stairwell of the building?",
            "answer": "The caretaker cleans the stairwell every Monday.",
            "quote": "The caretaker cleans it.",
        }
    )
    report = FilterReport()
    kept = list(
        write_examples(ScriptedHost([paraphrased, unrelated]), [chunk] * 2, report, repair=repair)
    )
    assert [e.quote for e in kept] == [
        "The deposit is returned within 30 days after the keys are handed back."
    ]
    assert report.repaired == 1 and report.dropped == {Dropped.QUOTE: 1}
    assert "1 with the passage's own sentence as quote" in report.summary()


def test_training_starts_this_python_from_a_checkout_and_the_training_package_when_installed(
    tmp_path, monkeypatch
):
    import sys

    from kbdesk.core.tune import training

    assert training.pipeline_command() == [sys.executable, "-m", "kbdesk.core.tune.pipeline"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "opt" / "kbdesk" / "kbdesk"))
    with pytest.raises(InvalidSetting, match="not installed on this computer") as err:
        training.pipeline_command()
    assert "kbdesk-training" in err.value.hint and "Train again" in err.value.hint
    program = tmp_path / "opt" / "kbdesk" / "training" / "kbdesk-train"
    program.parent.mkdir(parents=True)
    program.write_text("")
    assert training.pipeline_command() == [str(program)]
