"""The last check before verified (answer_check.py): the answer's own words against the sentences
it quotes, and which models the model's own check is asked of."""

from __future__ import annotations

from dataclasses import replace

from kbdesk.core.generate.answer_check import (
    MIN_NEW_TERMS,
    identifiers,
    names_unmentioned,
    names_unquoted,
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


def test_identifiers_are_names_no_translation_changes():
    assert identifiers("根据文档, fsautoresize-hosts 网络组的主机[1]。") == ["fsautoresize-hosts"]
    assert identifiers("是build-essential [2]，见 debian/control 和 eth0。") == [
        "build-essential",
        "debian/control",
        "eth0",
    ]
    assert identifiers("Write to Debian-Mentors@lists.debian.org, e.g. under /srv.") == [
        "Debian-Mentors@lists.debian.org",
        "/srv",
    ]
    # versions name documents, abbreviations and plain words are not identifiers
    assert (
        identifiers("Under EUPL v1.2 (i.e. version 1.2, e.g. FHS 3.0) the Licence says so.") == []
    )


def test_an_answer_naming_what_its_sentence_does_not_is_caught():
    # The real corpus's edu28: the netgroup named is not the one the cited sentence names.
    quote = "cups-queue-autoflush-hosts 网络组成员的主机每天夜间清空打印列队。"
    question = "哪个网络组里的主机会在每天夜里清空打印队列？"
    wrong = "根据文档, fsautoresize-hosts 网络组的主机会在每天夜里清空打印队列[1]。"
    right = "cups-queue-autoflush-hosts 网络组的主机会在每天夜里清空打印队列[1]。"
    assert names_unquoted(wrong, question, [cited(quote)]) == ["fsautoresize-hosts"]
    assert names_unquoted(right, question, [cited(quote)]) == []


def test_names_are_held_across_pdf_line_breaks_paths_by_their_parts_and_document_names():
    quote = "Run /usr/share/debian -edu-config/tools/gosa-modify, or list ftp and www under /srv."
    answer = "Run /usr/share/debian-edu-config/tools/gosa-modify or use /srv/ftp [1]."
    assert names_unquoted(answer, "How?", [cited(quote)]) == []
    source = replace(cited("The Licensor grants patent rights."), document="EUPL-1.2.pdf")
    assert names_unquoted("Yes, as EUPL-1.2.pdf says [1].", "Patents?", [source]) == []
    # a path whose parts the sentence lacks is named by the answer alone
    assert names_unquoted("Use /srv/rsync [1].", "How?", [cited(quote)]) == ["/srv/rsync"]


def test_a_question_name_the_cited_passages_never_mention_is_caught():
    # The real corpus's his11: asked about master.debian.org, answered from a passage on
    # Debian Edu; and mgz09, a Pre-Depends question answered from a Build-Depends passage.
    edu = cited("", text="Debian Edu / Skolelinux 是一个由Debian Edu 项目创建的Linux 发行版。")
    question = "第一台 master.debian.org 服务器是谁搭建的？由哪家公司托管？"
    assert names_unmentioned(question, [edu]) == ["master.debian.org"]
    history = cited("", text="The first master.debian.org server was built by Bdale Garbee.")
    assert names_unmentioned(question, [edu, history]) == []
    # a file named under its directory's heading is mentioned
    control = replace(
        cited("", text="Section: the gentoo example uses x11."), section="debian › control"
    )
    assert names_unmentioned("Which Section is in debian/control?", [control]) == []
