"""The benchmarks' fact grader (bench/bench_answers.has_fact): a right answer in other words for
its numbers counts, a wrong number or a cut decimal does not."""

from __future__ import annotations

from bench.bench_answers import has_fact


def test_a_fact_matches_its_text_without_case_space_or_thousand_separators():
    assert has_fact("The deposit is 25200 dollars.", "25,200 dollars")
    assert has_fact("Ｆｕｌｌ width: ８７４５", "8,745")
    assert not has_fact("The deposit is 25,100 dollars.", "25,200")


def test_whole_numbers_written_otherwise_count_and_other_numbers_do_not():
    assert has_fact("The minimum discussion period is two weeks.", "2 weeks")
    assert has_fact("技术委员会最多六人。", "6 人")
    assert not has_fact("The minimum discussion period is three weeks.", "2 weeks")
    assert not has_fact("It lasts two days.", "2 weeks")


def test_decimals_and_addresses_match_only_as_written():
    assert not has_fact("The kernel is Linux 5.1.", "5.10")
    assert not has_fact("Enter 10.0.2.2 as the host address.", "10.0.2.2/8")
    assert has_fact("Enter 10.0.2.2/8 as the host address.", "10.0.2.2/8")
