"""Which documents a question names: version numbers tell look-alike documents apart."""

from __future__ import annotations

from kbdesk.core.search.documents import (
    describe,
    named_documents,
    other_version,
    question_versions,
)

NAMES = [
    describe(1, "EUPL-1.1.pdf", "European Union Public Licence V.1.1"),
    describe(2, "EUPL-1.2.pdf", "European Union Public Licence v1.2"),
    describe(3, "maint-guide.en.pdf", "Debian New Maintainers' Guide"),
    describe(4, "Commercial_Lease_Agreement.pdf"),
    describe(5, "debian-constitution-1.9.pdf", "Constitution for the Debian Project (v1.9)"),
]


def test_versions_are_read_from_questions_in_both_languages():
    assert question_versions("Under version 2 of the licence") == {"2"}
    assert question_versions("In EUPL v1.2, what is a Contributor?") == {"1.2"}
    assert question_versions("What does the 2nd edition say?") == {"2"}
    assert question_versions("第2版的手册怎么说？") == {"2"}
    assert question_versions("2.0版与1.1版有什么不同") == {"2", "1.1"}
    assert question_versions("How much is the deposit of $8,745?") == set()


def test_a_version_in_the_question_picks_that_document_over_its_sibling():
    assert named_documents("Under EUPL v1.2, which court decides disputes?", NAMES) == {2: 1.0}
    assert named_documents("In version 1.1 of the European licence, who is Licensor?", NAMES) == {
        1: 1.0
    }


def test_without_a_version_a_question_names_nothing():
    # Words of file names alone misled as often as they helped (bench/bench_fusion.py).
    assert named_documents("What does the lease say about parking?", NAMES) == {}
    assert named_documents("Which court decides disputes under the EUPL?", NAMES) == {}


def test_a_version_no_document_has_names_nothing_and_an_empty_collection_is_fine():
    assert named_documents("Under EUPL v3.0, who decides?", NAMES) == {1: 1.0, 2: 1.0}
    assert named_documents("Under EUPL v1.2, who decides?", []) == {}


def test_an_answer_from_another_version_than_the_question_asks_about_is_told():
    question = "Which licences does the appendix of EUPL v1.1 list as compatible?"
    assert other_version(question, NAMES, [2]) == ("1.1",)  # v1.2's appendix
    assert other_version(question, NAMES, [1]) == ()  # the right version
    assert other_version(question, NAMES, [1, 2]) == ()  # one of them is the right one
    assert other_version(question, NAMES, [3]) == ()  # a document the question does not name
    assert other_version("第1.1版的附录列出了哪些兼容许可证？EUPL", NAMES, [2]) == ("1.1",)


def test_numbers_that_are_not_written_as_versions_are_not_held_to_the_document():
    # "v1" of another document's "v1.9" is not a word naming it, and a section number is
    # not a version: these answers stand.
    assert other_version("Under EUPL v1.2, which court decides?", NAMES, [2]) == ()
    assert other_version("What does section 4.1.5 of the constitution say?", NAMES, [5]) == ()
    assert other_version("What does the EUPL say about patents?", NAMES, [2]) == ()
    assert other_version("Under EUPL v1.1, who decides?", NAMES, []) == ()
    assert named_documents("Under EUPL v1.2, which court decides disputes?", NAMES) == {2: 1.0}
