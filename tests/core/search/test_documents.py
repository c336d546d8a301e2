"""Which documents a question names: version numbers and the words their names differ in tell
look-alike documents apart; two words of a name standing together, or its acronym, mention it."""

from __future__ import annotations

from kbdesk.core.search.documents import (
    describe,
    mentioned,
    named_documents,
    numbers_after_name_words,
    other_document,
    other_version,
    question_versions,
    siblings,
    told_apart,
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


def test_without_a_version_words_of_a_name_alone_name_nothing():
    # Words of file names alone misled as often as they helped (bench/bench_fusion.py).
    assert named_documents("What does the lease say about parking?", NAMES) == {}
    assert named_documents("Which court decides disputes under the european licence?", NAMES) == {}
    # The acronym in capitals mentions both versions, and a version picks one of them.
    assert named_documents("Which court decides disputes under the EUPL?", NAMES) == {
        1: 1.0,
        2: 1.0,
    }


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


MANUALS = [
    describe(6, "debian-edu-bookworm-manual.zh-cn.pdf", "Debian Edu / Skolelinux 12 Bookworm 手册"),
    describe(7, "debian-edu-bullseye-manual.zh-cn.pdf", "Debian Edu / Skolelinux Bullseye 11 手册"),
    describe(8, "maint-guide.zh-cn.pdf", "Debian 新维护者手册"),
    *NAMES,
]


def test_look_alikes_are_names_that_differ_in_a_word_or_two():
    found = {d: sorted(b.doc_id for b in others) for d, others in siblings(MANUALS).items()}
    assert found[6] == [7] and found[7] == [6]
    assert found[1] == [2] and found[2] == [1]  # the same words: versions tell them apart
    # The English and Chinese maintainers' guides share three words of nine.
    assert found[3] == [] and found[8] == []


def test_a_word_only_one_look_alike_has_tells_it_apart_in_both_languages():
    assert told_apart("Debian Edu 12（Bookworm）的蓝光 ISO 映像大约有多大？", MANUALS) == {6}
    assert told_apart("How large is the Bullseye manual's Blu-ray image?", MANUALS) == {7}
    assert named_documents("How large is the Bullseye manual's Blu-ray image?", MANUALS) == {7: 1.0}
    # Both words: the question is about the two; neither word alone: about neither.
    assert told_apart("按 Bookworm 手册从 Bullseye 升级时要改哪条源？", MANUALS) == set()
    assert told_apart("Debian Edu 的瘦客户端最少要多大内存？", MANUALS) == set()
    # A word of a name that has no look-alike is no more than a word (the lease case above).
    assert told_apart("What does the new maintainers' guide say about dh_make?", MANUALS) == set()


def test_a_number_after_a_word_of_a_name_is_a_version_only_when_a_document_has_it():
    assert numbers_after_name_words("Debian Edu 12 手册中的网关", MANUALS) == {"12"}
    assert named_documents("Debian Edu 11 附带的内核是哪个版本？", MANUALS) == {7: 1.0}
    # "Debian 8 Jessie" is a release the collection has no document of: nothing is named.
    assert numbers_after_name_words("Debian 8 Jessie 新引入了哪两个架构？", MANUALS) == set()
    assert named_documents("Debian 8 Jessie 新引入了哪两个架构？", MANUALS) == {}
    assert numbers_after_name_words("Debian Edu 12% of schools", MANUALS) == set()


def test_an_answer_from_the_look_alike_of_the_document_asked_about_is_told():
    question = "Debian Edu 12（Bookworm）的蓝光 ISO 映像大约有多大？"
    assert other_document(question, MANUALS, [7]) == ("debian-edu-bookworm-manual.zh-cn.pdf",)
    assert other_document(question, MANUALS, [6]) == ()  # the document asked about
    assert other_document(question, MANUALS, [6, 7]) == ()  # the two, one of them the right one
    # Another document altogether is not the one asked about either.
    assert other_document(question, MANUALS, [8]) == ("debian-edu-bookworm-manual.zh-cn.pdf",)
    assert other_document("Debian Edu 的瘦客户端最少要多大内存？", MANUALS, [7]) == ()


HISTORY = [
    describe(5, "debian-constitution-1.9.pdf", "Constitution for the Debian Project (v1.9)"),
    describe(9, "project-history.en.pdf", "A Brief History of Debian"),
    describe(10, "fhs-3.0.pdf", "Filesystem Hierarchy Standard"),
]


def test_two_words_of_a_name_standing_together_or_its_acronym_mention_it():
    assert mentioned("What majority is needed to amend the Debian constitution?", HISTORY) == {5}
    assert mentioned("According to A Brief History of Debian, when was 1.1 out?", HISTORY) == {9}
    assert mentioned("Where does the FHS put spool files?", HISTORY) == {10}
    assert mentioned(
        "Which directory does the Filesystem Hierarchy Standard give logs?", HISTORY
    ) == {10}
    # "Debian Project" stands in two names; "standard" alone, "fhs" in lower case, the two
    # words apart: none of these mentions a document.
    assert mentioned("When did the Debian Project start?", HISTORY) == set()
    assert mentioned("What is the standard resolution procedure?", HISTORY) == set()
    assert mentioned("where does fhs put spool files?", HISTORY) == set()
    assert mentioned("Is the constitution older than the Debian logo?", HISTORY) == set()
    # Search prefers what a question mentions, as it does a version's document.
    assert named_documents("What does the FHS say about /srv?", HISTORY) == {10: 1.0}


def test_an_answer_citing_none_of_the_documents_the_question_mentions_is_told():
    question = "What trademark policy does the Debian constitution lay down?"
    assert other_document(question, HISTORY, [9]) == ("debian-constitution-1.9.pdf",)
    assert other_document(question, HISTORY, [5, 9]) == ()
    assert other_document("What trademark policy does Debian have?", HISTORY, [9]) == ()
