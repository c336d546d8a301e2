"""Citation checking: markers parsed and normalised, wrong ones moved, missing ones added, inventions flagged."""

from __future__ import annotations

import random

import pytest

from kbdesk.core.embed import create_embedder
from kbdesk.core.generate.answer_text import Sentence, find_markers, split_sentences
from kbdesk.core.generate.citations import (
    SUPPORT_THRESHOLD,
    check_citations,
    render_markers,
    strip_markers,
)
from kbdesk.core.generate.support import SupportScorer, numbers_in
from kbdesk.core.types import Hit

LEASE = [
    "Section 7 Repairs. The Landlord shall keep the roof, structure and common areas of the "
    "building in good repair. The Tenant shall repair any damage caused by its employees or visitors.",
    "Section 8 Warranty. The Landlord warrants that the heating, ventilation and air conditioning "
    "systems will be in good working order for twelve (12) months after the commencement date. "
    "Defects reported within that period are repaired at the Landlord's cost.",
    "Section 4 Rent. The monthly rent is 8,400 dollars, payable on the first business day of each "
    "month. A late fee of 5 percent applies to any payment received after the tenth day of the month.",
    "Section 9 Termination. Either party may terminate this lease by giving ninety days written "
    "notice. The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates.",
]
LEAFLET = [
    "术后护理须知。本须知适用于膝关节置换手术后的患者。请在出院前仔细阅读。",
    "伤口护理：手术后十四天内不要洗澡，保持伤口干燥。每两天更换一次敷料。"
    "如果伤口发红、渗液或发热超过三十八度，请立即就医。",
    "康复锻炼：术后第二天开始在理疗师指导下进行屈膝练习。六周内避免跑步和跳跃。术后三个月复查。",
]


def hits(texts: list[str], document: str = "lease.pdf") -> list[Hit]:
    return [
        Hit(n, 1.0 / n, 100 + n, 7, document, f"/docs/{document}", n + 2, text)
        for n, text in enumerate(texts, start=1)
    ]


@pytest.fixture(scope="session")
def use():
    embedder = create_embedder("use-multilingual")
    embedder.warm_up()
    return embedder


@pytest.fixture(params=["embedder", "words only"])
def embedder(request, use):
    return use if request.param == "embedder" else None


def test_warranty_cited_to_the_wrong_clause_is_moved_to_the_right_one(embedder):
    answer = (
        "The Landlord warrants the heating and air conditioning systems for 12 months after "
        "the commencement date [1]."
    )
    result = check_citations(answer, hits(LEASE), embedder)
    (sentence,) = result.sentences
    assert sentence.citations == (2,) and sentence.corrected and sentence.supported
    assert result.text.endswith("commencement date [2].")
    assert [c.n for c in result.citations] == [2]
    assert result.citations[0].chunk_id == 102 and result.citations[0].page == 4
    assert result.supported and not result.declined and result.unsupported == 0


def test_a_moved_citation_stays_where_the_model_put_it(embedder):
    answer = (
        "The Landlord warrants [1] the heating and air conditioning systems for 12 months after "
        "the commencement date."
    )
    result = check_citations(answer, hits(LEASE), embedder)
    assert result.text == answer.replace("[1]", "[2]")


def test_a_passable_citation_moves_when_another_source_is_far_better(use):
    # Section 7 (repairs) shares the words; Section 8 says exactly this.
    answer = "Repairs of defects in the building systems are at the Landlord's cost [1]."
    result = check_citations(answer, hits(LEASE), use)
    assert result.sentences[0].citations == (2,) and result.sentences[0].corrected


def test_a_right_citation_is_left_alone(embedder):
    answer = "Either party may end the lease with ninety days written notice [4]."
    result = check_citations(answer, hits(LEASE), embedder)
    assert result.text == answer
    assert result.sentences[0].citations == (4,) and not result.sentences[0].corrected


def test_an_uncited_supported_sentence_gets_a_citation(embedder):
    answer = "The monthly rent is 8,400 dollars [3]. A late fee of 5 percent applies after the tenth day."
    result = check_citations(answer, hits(LEASE), embedder)
    second = result.sentences[1]
    assert second.citations == (3,) and second.corrected and second.supported
    assert result.text.endswith("after the tenth day [3].")
    assert [c.n for c in result.citations] == [3]


def test_a_sentence_pointing_at_the_source_of_the_one_before_is_not_a_cut_off_claim(embedder):
    answer = "The monthly rent is 8,400 dollars. This is described in [3]."
    result = check_citations(answer, hits(LEASE), embedder)
    assert result.unsupported == 0 and result.supported
    assert [c.n for c in result.citations] == [3]
    # standing alone it answers nothing: the sentence is judged cut off, as before
    alone = check_citations("The rent is described in [3].", hits(LEASE), embedder)
    assert not alone.supported


def test_an_invented_number_is_flagged_and_loses_its_citation(embedder):
    answer = "The monthly rent is 8,400 dollars [3]. The deposit is 30,000 dollars [4]."
    result = check_citations(answer, hits(LEASE), embedder)
    rent, deposit = result.sentences
    assert rent.supported and rent.citations == (3,)
    assert not deposit.supported and deposit.citations == () and deposit.corrected
    assert deposit.score < SUPPORT_THRESHOLD
    assert result.unsupported == 1
    assert result.text == "The monthly rent is 8,400 dollars [3]. The deposit is 30,000 dollars."


def test_an_invented_fact_without_numbers_is_flagged(use):
    answer = "The landlord also pays the tenant's electricity and internet bills [1]."
    result = check_citations(answer, hits(LEASE), use)
    assert not result.sentences[0].supported and result.unsupported == 1
    assert result.citations == () and not result.supported


def test_markers_to_missing_sources_are_dropped(embedder):
    answer = "Either party may terminate this lease by giving ninety days written notice [9][0][4]."
    result = check_citations(answer, hits(LEASE), embedder)
    assert (
        result.text
        == "Either party may terminate this lease by giving ninety days written notice [4]."
    )
    assert result.sentences[0].citations == (4,) and result.sentences[0].corrected


def test_marker_forms_are_parsed():
    text = "a [1][3] b [1, 3] c [1-3] d 【2】 e [Source 4] f ［5］ g [来源6] h (3) years [2024]"
    assert [numbers for _, _, numbers in find_markers(text)] == [
        [1], [3], [1, 3], [1, 2, 3], [2], [4], [5], [6],
    ]  # fmt: skip
    assert strip_markers(text) == "a b c d e f g h (3) years [2024]"
    assert render_markers([1, 3]) == "[1][3]"


def test_mixed_marker_styles_are_normalised_and_a_two_source_sentence_keeps_both(embedder):
    answer = (
        "The monthly rent is 8,400 dollars and the security deposit is 25,200 dollars [3, 4]. "
        "The rent is due on the first business day [3][4]."
    )
    result = check_citations(answer, hits(LEASE), embedder)
    both, due = result.sentences
    assert both.citations == (3, 4) and both.supported and not both.corrected
    assert due.citations == (3,) and due.corrected  # [4] says nothing about the due date
    assert result.text == (
        "The monthly rent is 8,400 dollars and the security deposit is 25,200 dollars [3][4]. "
        "The rent is due on the first business day [3]."
    )


def test_chinese_answer_with_full_width_markers(embedder):
    answer = "手术后十四天内不要洗澡【2】。每两天更换一次敷料。术后六周内避免跑步【1】。"
    result = check_citations(answer, hits(LEAFLET, "术后护理须知.pdf"), embedder)
    assert [s.text for s in result.sentences] == [
        "手术后十四天内不要洗澡[2]。",
        "每两天更换一次敷料[2]。",
        "术后六周内避免跑步[3]。",
    ]
    assert [s.corrected for s in result.sentences] == [False, True, True]
    assert (
        result.text == "手术后十四天内不要洗澡[2]。每两天更换一次敷料[2]。术后六周内避免跑步[3]。"
    )
    assert [c.n for c in result.citations] == [2, 3]


def test_chinese_invented_number_is_flagged(embedder):
    result = check_citations("术后一个月就可以跑步[3]。", hits(LEAFLET), embedder)
    assert not result.sentences[0].supported and result.text == "术后一个月就可以跑步。"


def test_a_chinese_answer_about_english_sources_is_checked_by_meaning(use):
    answer = "押金会在租户搬离后三十天内退还[1]。"
    result = check_citations(answer, hits(LEASE), use)
    assert result.sentences[0].citations == (4,) and result.sentences[0].supported


EDU = [
    "Debian Edu uses Samba to share files with Windows workstations.",
    "Squid provides the web cache; its DNS name is webcache.",
]


def test_an_answer_in_another_script_is_held_by_the_names_it_adds_not_those_it_was_asked(use):
    question = "Debian Edu 用什么软件做网页缓存？"
    right = check_citations("Debian Edu 用 Squid 做网页缓存。", hits(EDU), use, question)
    assert right.supported and [c.n for c in right.citations] == [2]
    invented = check_citations("Debian Edu 用 Varnish 做网页缓存。", hits(EDU), use, question)
    assert not invented.supported and not invented.citations
    restated = check_citations("Debian Edu 的网页缓存很重要。", hits(EDU), use, question)
    assert not restated.supported


def test_markers_after_the_stop_belong_to_the_sentence_before():
    pieces = split_sentences(
        "Notice is 90 days.[4] Rent is due monthly. [3]\n术后复查。【3】下一句"
    )
    sentences = [p for p in pieces if isinstance(p, Sentence)]
    assert [s.text for s in sentences] == [
        "Notice is 90 days.[4]",
        "Rent is due monthly. [3]",
        "术后复查。【3】",
        "下一句",
    ]
    assert [s.cited for s in sentences] == [(4,), (3,), (3,), ()]
    assert "".join(p if isinstance(p, str) else p.text for p in pieces) == (
        "Notice is 90 days.[4] Rent is due monthly. [3]\n术后复查。【3】下一句"
    )


def test_abbreviations_decimals_and_list_items_do_not_confuse_the_splitter():
    text = "Take e.g. amlodipine 2.5 mg. See Sec. 4 of the U.S. code!\n- First item\n2. Second item"
    sentences = [p for p in split_sentences(text) if isinstance(p, Sentence)]
    assert [s.text for s in sentences] == [
        "Take e.g. amlodipine 2.5 mg.",
        "See Sec. 4 of the U.S. code!",
        "- First item",
        "2. Second item",
    ]
    assert sentences[3].body == "Second item"


def test_connectors_are_neither_flagged_nor_cited(embedder):
    answer = "Yes.\nIn summary:\n- The monthly rent is 8,400 dollars [3]."
    result = check_citations(answer, hits(LEASE), embedder)
    yes, summary, rent = result.sentences
    assert yes.supported and yes.citations == () and not yes.corrected
    assert summary.supported and summary.citations == ()
    assert rent.citations == (3,) and result.unsupported == 0
    assert result.text == answer


@pytest.mark.parametrize("answer", ["NOT_IN_DOCUMENTS", "NOT_IN_DOCUMENTS.", " not in documents\n"])
def test_the_sentinel_declines(answer):
    result = check_citations(answer, hits(LEASE))
    assert result.declined and not result.supported
    assert result.citations == () and result.sentences == () and result.text == ""


@pytest.mark.parametrize(
    "answer",
    [
        "The documents do not contain information about parking fees.",
        "The provided sources don't mention a parking fee.",
        "Parking fees are not mentioned in the sources.",
        "I cannot find anything about parking in the provided documents.",
        "文档中没有提到停车费。",
        "资料中未提及停车费用。",
        "无法从提供的资料中找到停车费的信息。",
    ],
)
def test_refusal_phrasings_decline(answer, embedder):
    result = check_citations(answer, hits(LEASE), embedder)
    assert result.declined and not result.supported and result.unsupported == 0


def test_a_partial_refusal_with_a_grounded_answer_is_not_declined(embedder):
    answer = (
        "The documents do not mention parking. The monthly rent is 8,400 dollars, payable on "
        "the first business day of each month [3]."
    )
    result = check_citations(answer, hits(LEASE), embedder)
    assert not result.declined and result.supported
    assert [c.n for c in result.citations] == [3]


def test_declined_message_follows_the_question_language():
    from kbdesk.core.messages import language_of, say

    assert "documents" in say("declined", language_of("What is the parking fee?"))
    assert "文档" in say("declined", language_of("停车费是多少？"))


def test_numbers_are_read_in_several_forms():
    assert numbers_in("rent of 8,400 dollars, 2.5 mg, 180/110") >= {"8400", "2.5", "180", "110"}
    assert numbers_in("手术后十四天，两万三千元，三十分钟") >= {"14", "23000", "30"}
    assert numbers_in("一般情况下十分重要") == set()
    assert numbers_in("ninety five days, two hundred dollars") == {"95", "200"}
    assert numbers_in("see clause 3.2.1 and 1,2") == {"3", "2", "1"}
    assert "1" not in numbers_in("the first day") and "1" in numbers_in("the first day", loose=True)
    # a month written as a word, beside a day or a year, is the number a Chinese date writes
    assert numbers_in("released on February 14th, 2009") == numbers_in("2009年2月14日")
    assert numbers_in("14 Feb. 2009") == {"14", "2", "2009"} and numbers_in("June of 1996") == {
        "6",
        "1996",
    }
    assert numbers_in("in May the team may 2 times") == {"2"}


def test_a_chinese_date_is_supported_by_the_english_date_it_restates(use):
    history = ["Debian 5.0 (lenny) was released on February 14th, 2009, after 22 months."]
    result = check_citations(
        "Debian 5.0 于2009年2月14日发布 [1]。", hits(history), use, "Debian 5.0"
    )
    assert result.supported and result.unsupported == 0


def test_scores_are_in_range_and_favour_the_right_passage(use):
    scorer = SupportScorer(LEASE, use)
    (row,) = scorer.score(
        ["Defects reported within that period are repaired at the Landlord's cost."]
    )
    assert ((row >= 0) & (row <= 1)).all()
    assert row.argmax() == 1 and row[1] - sorted(row)[-2] > 0.3


def words_of(text: str) -> list[str]:
    """Lines of words without markers: spacing around markers may change."""
    lines = (" ".join(line.split()) for line in strip_markers(text).splitlines())
    return [line for line in lines if line]


def test_checking_never_changes_the_words_only_the_markers():
    """(Save a word that only joins a dropped marker to another, or a lead that only names
    dropped ones: the test below.)"""
    rng = random.Random(3)
    vocabulary = [
        "The", "monthly", "rent", "is", "8,400", "dollars", "deposit", "25,200", "ninety",
        "days", "notice", "手术后", "十四天", "洗澡", "。", ".", "!", "?", ",", "\n", "- ",
        "[1]", "[3]", "[9]", "[1, 2]", "【2】", "[2-4]", "(3)", "e.g.", "Yes.", "2.5", "3.2.1", "一次", " ",
    ]  # fmt: skip
    sources = hits(LEASE)
    for _ in range(300):
        answer = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 30)))
        result = check_citations(answer, sources)
        assert words_of(result.text) == words_of(answer)
        assert all(1 <= n <= len(sources) for s in result.sentences for n in s.citations)
        assert [c.n for c in result.citations] == sorted(
            {n for s in result.sentences for n in s.citations}
        )
        assert result.unsupported == sum(not s.supported for s in result.sentences)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "According to [9], the monthly rent is 8,400 dollars.",
            "The monthly rent is 8,400 dollars [3].",
        ),
        (
            "According to [3] and [9], the monthly rent is 8,400 dollars.",
            "According to [3], the monthly rent is 8,400 dollars.",
        ),
        (
            "According to [3] and [4], the monthly rent is 8,400 dollars.",
            "According to [3], the monthly rent is 8,400 dollars.",
        ),
        (
            "The monthly rent is 8,400 dollars [3] and [9].",
            "The monthly rent is 8,400 dollars [3].",
        ),
        ("根据 [9] 和 [8] 的内容，月租金是 8,400 美元。", "月租金是 8,400 美元[3]。"),
    ],
)
def test_a_dropped_marker_standing_as_a_word_takes_the_words_that_only_served_it(
    use, answer, expected
):
    assert check_citations(answer, hits(LEASE), use).text == expected


def test_markers_joined_by_a_word_and_all_kept_stay_as_written(use):
    answer = "The late fee is 5 percent [3] and notice is ninety days [4]."
    assert check_citations(answer, hits(LEASE), use).text == answer


def test_no_sources_means_nothing_is_supported(use):
    result = check_citations("The monthly rent is 8,400 dollars [1].", [], use)
    assert result.text == "The monthly rent is 8,400 dollars."
    assert result.unsupported == 1 and not result.supported


FHS = ["The operating system kernel must be located in either / or /boot."]


def test_a_version_the_question_names_is_not_a_claim_of_the_answer(embedder):
    answer = "According to FHS 3.0, the operating system kernel must be located in / or /boot [1]."
    question = "Where must the operating system kernel be located according to FHS 3.0?"
    asked = check_citations(answer, hits(FHS, "fhs.pdf"), embedder, question)
    assert asked.supported and asked.sentences[0].citations == (1,)
    # without the question, "3.0" is a number no source holds
    assert not check_citations(answer, hits(FHS, "fhs.pdf"), embedder).supported


def test_a_source_holds_the_numbers_of_its_document_name(embedder):
    answer = "According to FHS 3.0, the operating system kernel must be located in / or /boot [1]."
    assert check_citations(answer, hits(FHS, "fhs-3.0.pdf"), embedder).supported


def test_an_amount_in_the_question_is_still_a_claim_of_the_answer(embedder):
    answer = (
        "Yes, a late fee of 2.5 percent applies to any payment received after the tenth day [3]."
    )
    result = check_citations(answer, hits(LEASE), embedder, "Is the late fee 2.5%?")
    assert not result.supported


def test_a_page_reference_is_not_a_claim_of_the_answer(embedder):
    answer = "On page 12, either party may terminate this lease by giving ninety days written notice [4]."
    result = check_citations(answer, hits(LEASE), embedder)
    assert result.supported and result.sentences[0].citations == (4,)


HISTORY = [
    " ".join(
        f"Release {name} shipped {count} packages for its users."
        for name, count in zip(
            "Buzz Rex Bo Hamm Slink Potato Woody Sarge Etch Lenny Squeeze Wheezy Stretch".split(),
            range(400, 20000, 1500),
            strict=False,
        )
    )
    + " Debian 8 Jessie, released in April 2015, introduced the arm64 and ppc64el architectures."
]


def test_a_chinese_answer_is_checked_against_the_english_sentence_sharing_its_names(use):
    answer = "Debian 8 Jessie 新引入了 arm64 和 ppc64el 架构[1]。"
    result = check_citations(answer, hits(HISTORY, "project-history.en.pdf"), use)
    assert result.supported and result.sentences[0].citations == (1,)


def test_the_quote_of_an_answer_restating_a_version_is_the_sentence_it_restates(use):
    passage = [
        "Thus /boot stores data that is used before the kernel begins executing user-mode "
        "programs. The operating system kernel must be located in either / or /boot."
    ]
    answer = "According to FHS 3.0, the operating system kernel must be located in / or /boot [1]."
    question = "Where must the operating system kernel be located according to FHS 3.0?"
    [citation] = check_citations(answer, hits(passage, "fhs.pdf"), use, question).citations
    assert citation.quote == "The operating system kernel must be located in either / or /boot."
