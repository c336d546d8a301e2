"""Verified means the cited sentence says it: a cut-off sentence and a bare yes or no that the
cited sentence contradicts are not verified, and a quotation is never a page's furniture."""

from __future__ import annotations

import pytest

from kbdesk.core.embed import create_embedder
from kbdesk.core.generate.citations import check_citations
from kbdesk.core.generate.faithfulness import (
    contradicts,
    furniture,
    incomplete,
    page_furniture,
    pointer,
    without_page_furniture,
)
from kbdesk.core.generate.support import closest_sentence
from tests.core.generate.test_citations import LEASE, hits

SUBLET = ["Section 12 Subletting. The Tenant may not sublet the premises or assign this lease."]


@pytest.fixture(scope="module")
def checker():
    return create_embedder("use-multilingual")


@pytest.mark.parametrize(
    ("sentence", "cut"),
    [
        ("The security deposit is the [1].", True),
        ("押金是 [1]。", True),
        ("The security deposit of 25,200 dollars is returned within 30 days [4].", False),
        ("手术后十四天内不要洗澡 [2]。", False),
        ("The permission mode required for the /tmp directory is 1777 [1].", False),
        ("它的默认 IP 地址是 10.0.2.2 [3]。", False),
        ("Debian 5.0 lenny 是2009年2月14日发布的 [3]。", False),
        ("EUPL 1.2 文本开头的版权声明写的是欧盟 2007 和 2016。", False),
        ("The deposit is returned within 30 days and [4].", True),
    ],
)
def test_a_sentence_cut_off_mid_clause_is_recognised(sentence, cut):
    assert incomplete(sentence) is cut


@pytest.mark.parametrize(
    ("sentence", "points"),
    [
        ("This is described in [1].", True),
        ("See [2][3].", True),
        ("详见[2]。", True),
        ("The security deposit is the [1].", False),
        ("The deposit is returned within 30 days [4].", False),
        ("This is described in.", False),
    ],
)
def test_a_sentence_that_only_says_where_the_last_one_comes_from_is_a_pointer(sentence, points):
    assert pointer(sentence) is points


def test_a_bare_yes_or_no_must_agree_with_the_cited_sentence():
    assert contradicts("Yes [1].", SUBLET[0])
    assert not contradicts("No [1].", SUBLET[0])
    assert contradicts("No, it does not [1].", "Pets are allowed in the building.")
    assert not contradicts("不可以 [1]。", "租户不得转租。")
    # a sentence that restates the rule in its own words is left to the support score
    assert not contradicts("Yes, but only with the landlord's written consent [1].", SUBLET[0])


DELEGATED = "Once a particular decision has been delegated and made the Leader may not withdraw it."


@pytest.mark.parametrize(
    ("sentence", "quote", "contradicted"),
    [
        ("Yes, the leader can take back a delegated decision [1].", DELEGATED, True),
        ("No, the leader cannot take back a delegated decision [1].", DELEGATED, False),
        (
            "No, pets are never allowed anywhere in the building [1].",
            "Pets are allowed in the building.",
            True,
        ),
        # an absence named in the quote is not a denial
        (
            "Yes, you can delete them without losing data [1].",
            "It can be deleted without data loss.",
            False,
        ),
        # a qualified answer carries its own condition, which may be the quote's negation
        ("Yes, but only with the landlord's written consent [1].", SUBLET[0], False),
        ("Yes, if the landlord agrees in writing [1].", SUBLET[0], False),
        ("不可以，租户不得转租房屋 [1]。", "租户不得转租。", False),
        ("可以，租户可以转租房屋 [1]。", "租户不得转租。", True),
        # a sentence not led by an answer word is left to the support score
        ("The leader can take back a delegated decision [1].", DELEGATED, False),
    ],
)
def test_an_answer_led_by_yes_or_no_must_agree_with_its_quote(sentence, quote, contradicted):
    passage = f"Section 8. The Leader. {quote} Other rules do not apply."  # denies anyway
    assert contradicts(sentence, passage, quote) is contradicted


@pytest.mark.parametrize(
    ("sentence", "is_furniture"),
    [
        ("Debian New Maintainers' Guide 12", True),
        ("Page 3 of 6", True),
        ("- 12 -", True),
        ("Section 9 Termination", True),
        ("第 3 页", True),
        ("The security deposit of 25,200 dollars is returned within 30 days.", False),
        ("本须知适用于膝关节置换手术后的患者。", False),
    ],
)
def test_page_furniture_and_headings_are_recognised(sentence, is_furniture):
    assert furniture(sentence) is is_furniture


@pytest.mark.parametrize(
    ("sentence", "belongs_to_the_page"),
    [
        # running headers and footers of the real corpus, and a lease's
        ("A Brief History of Debian 20 / 21", True),
        ("Debian Edu / Skolelinux 12 Bookworm 手册 7 / 92", True),
        ("Commercial Lease Agreement - Page 3 of 6", True),
        ("5.14.3. /var/spool/lpd : Line-printer daemon print queues (optional) ........ 37", True),
        ("37 5.14.3.", True),  # a contents line cut at its number
        ("- 12 -", True),
        # a heading or a list entry is text: it may answer ("mqueue Outgoing mail queue")
        ("mqueue Outgoing mail queue (optional)", False),
        ("Section 9 Termination", False),
        ("The tenant pays 3 / 4 of the heating costs.", False),
        ("本须知适用于膝关节置换手术后的患者。", False),
    ],
)
def test_a_pages_furniture_is_told_from_its_text(sentence, belongs_to_the_page):
    assert page_furniture(sentence) is belongs_to_the_page
    if belongs_to_the_page:
        assert furniture(sentence)  # never quoted either


def test_a_contradicted_yes_and_a_cut_off_answer_are_not_verified(checker):
    yes = check_citations("Yes [1].", hits(SUBLET), checker)
    assert not yes.supported and yes.unsupported == 1
    cut = check_citations(
        "The security deposit of 25,200 dollars is the [4].", hits(LEASE), checker
    )
    assert not cut.supported
    whole = check_citations(
        "The security deposit of 25,200 dollars is returned within 30 days [4].",
        hits(LEASE),
        checker,
    )
    assert whole.supported and whole.unsupported == 0


def test_the_closest_sentence_quoted_is_never_a_footer_or_heading(checker):
    page = "Commercial Lease Agreement 3\nSection 9 Termination\n" + LEASE[3].split(". ", 1)[1]
    found = closest_sentence([page], "Section 9 Termination", checker)
    assert found is not None and page[found[1] : found[2]] == "Section 9 Termination"
    found = closest_sentence(
        [page], "Section 9 Termination", checker, usable=lambda s: not furniture(s)
    )
    assert found is not None and not furniture(page[found[1] : found[2]])


def test_a_passage_shown_by_its_opening_words_starts_after_its_running_header():
    passage = "Debian New Maintainers’ Guide 7 / 57\n2.2 Choose your program\nYou have chosen"
    assert without_page_furniture(passage) == "2.2 Choose your program\nYou have chosen"
    assert without_page_furniture("12") == "12"  # nothing else: kept as it is
    assert without_page_furniture("Rent is due.\n3 / 9") == "Rent is due.\n3 / 9"
