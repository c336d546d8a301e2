"""Keyword tokenisation: Chinese is segmented, stopwords dropped, FTS5 queries are always valid."""

from __future__ import annotations

from kbdesk.core.search.fusion import reciprocal_rank_fusion
from kbdesk.core.search.text import has_cjk, index_body, match_expression, query_terms


def test_chinese_is_segmented_into_words_for_the_index():
    body = index_body("手术后十四天内不要洗澡")
    assert "洗澡" in body.split() and "手术" in body.split()


def test_query_terms_drop_stopwords_in_both_languages():
    assert query_terms("What is the notice period for termination?") == [
        "notice",
        "period",
        "termination",
    ]
    terms = query_terms("手术后多久可以洗澡？")
    assert "洗澡" in terms and "可以" not in terms


def test_match_expression_quotes_terms_and_survives_fts_syntax():
    assert match_expression('AND OR "NEAR" (x) *') == '"near"'
    assert match_expression("the of") is None
    assert match_expression("Section 7.2") == '"section" OR "7.2"'


def test_has_cjk():
    assert has_cjk("abc 中文") and not has_cjk("abc")


def test_rrf_rewards_agreement_between_lists():
    fused = reciprocal_rank_fusion([[(1, 0.9), (2, 0.8), (3, 0.7)], [(3, 5.0), (1, 4.0)]])
    assert [i for i, _ in fused] == [1, 3, 2]
