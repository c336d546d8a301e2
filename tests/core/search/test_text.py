"""Keyword tokenisation: Chinese is segmented, stopwords dropped, FTS5 queries are always valid."""

from __future__ import annotations

from kbdesk.core.search.fusion import (
    calibrated_fusion,
    convex_fusion,
    reciprocal_rank_fusion,
)
from kbdesk.core.search.text import (
    budgeted_match,
    fts_words,
    has_cjk,
    index_body,
    match_expression,
    name_terms,
    query_terms,
    spelled_out,
)


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


def test_convex_fusion_keeps_a_clear_winner_of_one_list_on_top():
    dense = [(1, 0.80), (2, 0.50), (3, 0.45)]
    keyword = [(3, 12.0), (2, 11.0), (9, 2.0)]
    fused = convex_fusion(dense, keyword, dense_weight=0.6)
    # 1 tops dense clearly (0.6); 2 is good in both (0.6*0.14 + 0.4*0.9 = 0.45); 3 tops keyword only (0.4)
    assert [i for i, _ in fused] == [1, 2, 3, 9]
    assert abs(fused[0][1] - 0.6) < 1e-9
    assert convex_fusion([], keyword)[0][0] == 3 and convex_fusion(dense, [])[0][0] == 1


def test_calibrated_fusion_ignores_keyword_matches_the_dense_side_finds_unrelated():
    # A Chinese question over English documents: the keyword side's only matches (9, 8) are
    # stray Chinese passages the dense side scores far below its own best (1).
    cosine = {1: 0.62, 2: 0.55, 3: 0.50, 4: 0.30, 9: 0.20, 8: 0.18}
    keyword = [(9, 14.0), (8, 3.0)]
    fused = [i for i, _ in calibrated_fusion(cosine, keyword)]
    assert fused == [1, 2, 3, 4, 9, 8]
    # convex fusion lifts the stray keyword match over a related passage (4)
    dense = sorted(cosine.items(), key=lambda kv: -kv[1])
    convex = [i for i, _ in convex_fusion(dense, keyword)]
    assert convex.index(9) < convex.index(4)


def test_calibrated_fusion_lets_a_related_keyword_match_decide():
    # The keyword side's best passage (2) is one the dense side finds as related as its own
    # best: an exact term match lifts it to the top.
    cosine = {1: 0.60, 2: 0.59, 3: 0.40, 4: 0.38, 5: 0.35}
    keyword = [(2, 20.0), (5, 2.0)]
    assert calibrated_fusion(cosine, keyword)[0][0] == 2
    assert calibrated_fusion(cosine, [])[0][0] == 1


def test_budgeted_match_keeps_rare_terms_and_ands_the_common_ones():
    terms, dfs = ["notice", "tenant", "clause-123", "period"], [9000, 15000, 3, 12000]
    assert (
        budgeted_match(terms, dfs, 20_000) == '"clause-123" OR "notice" OR ("period" AND "tenant")'
    )
    assert budgeted_match(terms, dfs, 10**9) == '"clause-123" OR "notice" OR "period" OR "tenant"'
    # the rarest term is always kept; one dropped common word is paired with it
    assert budgeted_match(["a1", "b2"], [50_000, 60_000], 100) == '"a1" OR ("a1" AND "b2")'
    assert budgeted_match([], [], 10) is None


def test_names_in_a_question_are_acronyms_camel_case_inner_capitals_and_latin_words_in_chinese():
    assert name_terms("Which FHS directory is reserved for Flatpak data?") == ["FHS", "Flatpak"]
    assert name_terms("Who may use PostgreSQL? Debian may.") == ["PostgreSQL"]  # "Debian" opens
    assert name_terms("What is the rent? What is the deposit?") == []
    assert name_terms("Debian Edu 12 的桌面默认运行在 Wayland 上吗？") == [
        "Debian",
        "Edu",
        "Wayland",
    ]


def test_an_acronym_spelled_out_in_the_passages_is_mentioned():
    passages = ["This Non-Disclosure Agreement binds both parties.", "Rent is due monthly."]
    assert spelled_out("NDA", passages)
    assert not spelled_out("SOC", passages)
    assert not spelled_out("Nda", passages)  # not an acronym


def test_fts_words_split_as_the_keyword_index_does():
    # what a shared server's keyword index is built from: FTS5 unicode61's tokens
    assert fts_words("EUPL v1.2, § 7.2 (the tenant's café) e-mail_x") == (
        "EUPL v1 2 7 2 the tenant s cafe e mail x"
    )
    assert fts_words(index_body("合同期限为三年")) == index_body("合同期限为三年")
