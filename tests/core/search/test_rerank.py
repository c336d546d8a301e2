"""The rerank stage: off by default, re-orders the fused candidates when a cross-encoder is set."""

from __future__ import annotations

import pytest

from kbdesk.core.errors import ModelMissing
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.search.rerank import CrossEncoderReranker


class PrefersPageThree:
    """Stands in for a cross-encoder (none ships offline): this test is about the plumbing."""

    def scores(self, query, passages):
        return [1.0 if "Termination" in p else 0.0 for p in passages]


def test_reranker_reorders_candidates(data_dir, docs_dir):
    with KnowledgeBase.open(data_dir, "r") as kb:
        kb.import_paths([docs_dir])
        before = kb.search("monthly rent late fee", k=3)
        assert before[0].page == 2
        kb._reranker = PrefersPageThree()
        after = kb.search("monthly rent late fee", k=3)
        assert after[0].page == 3 and "Termination" in after[0].text
        kb.set_reranker(None)
        assert kb.search("monthly rent late fee", k=3)[0].page == 2


def test_a_folder_without_a_cross_encoder_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ModelMissing, match="cross-encoder"):
        CrossEncoderReranker(tmp_path)
