"""Assigning patient groups to splits: the fraction syntax, and a pure, stable assignment."""

import hashlib
from collections import Counter

import pytest

from generator.errors import ConfigError
from generator.inputs.splits import DEFAULT_FRACTIONS, format_fractions, parse_fractions, split_of, split_summary


def test_parse_fractions():
    assert parse_fractions("train=0.8,val=0.1,test=0.1") == DEFAULT_FRACTIONS
    assert parse_fractions(" a = 0.25 , b_2=0.75") == (("a", 0.25), ("b_2", 0.75))
    assert parse_fractions("all=1") == (("all", 1.0),)
    assert parse_fractions(format_fractions(DEFAULT_FRACTIONS)) == DEFAULT_FRACTIONS


@pytest.mark.parametrize("text, allowed", [
    ("train=0.8,val=0.1", "summing to 1 (these sum to 0.9)"),
    ("train=0.8,val=0.1,test=0.1000011", "summing to 1"),
    ("Train=0.9,test=0.1", "lower-case identifiers"),
    ("1st=0.9,test=0.1", "lower-case identifiers"),
    ("train=0.5,train=0.5", "each name once"),
    ("train=1,test=0", "fractions > 0"),
    ("train=1.1,test=-0.1", "fractions > 0"),
    ("train=nan,test=0.1", "fractions > 0"),
    ("train", "NAME=FRACTION"),
    ("train=x,test=0.1", "NAME=FRACTION"),
    ("train=0.9,test=0.1,", "NAME=FRACTION"),
    ("", "NAME=FRACTION"),
])
def test_bad_fractions_name_the_option_and_what_is_allowed(text, allowed):
    with pytest.raises(ConfigError) as err:
        parse_fractions(text)
    assert err.value.option == "--split-fractions"
    assert repr(text) in str(err.value) and allowed in str(err.value)


def test_split_of_is_the_documented_hash():
    for key in ("nih:00001280", "csv:P-7", "file:a/b.png", "dicom:Ünïcode"):
        for seed in (0, 1, 12345):
            digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
            u = int.from_bytes(digest[:8], "big") / 2**64
            expected = "train" if u < 0.8 else "val" if u < 0.9 else "test"
            assert split_of(key, DEFAULT_FRACTIONS, seed) == expected
    # pinned values: a change of the rule would move every patient between splits
    assert [split_of(k, DEFAULT_FRACTIONS, 1) for k in ("nih:00001280", "csv:P-7", "nih:00001281")] == [
        "train", "test", "test"]


def test_split_of_follows_the_fractions_and_the_split_seed():
    keys = [f"nih:{n:08d}" for n in range(20000)]
    fractions = (("train", 0.7), ("val", 0.2), ("test", 0.1))
    counts = Counter(split_of(k, fractions, 0) for k in keys)
    for name, fraction in fractions:
        assert abs(counts[name] / len(keys) - fraction) < 0.01, counts
    moved = sum(split_of(k, fractions, 0) != split_of(k, fractions, 1) for k in keys)
    assert moved > 0.3 * len(keys)  # another split seed is another assignment
    assert all(split_of(k, fractions, 0) == split_of(k, fractions, 0) for k in keys[:100])


def test_the_last_split_takes_what_rounding_leaves():
    # 0.1 * 3 sums to 0.30000000000000004 in floats; nothing falls off the end either way
    fractions = (("a", 0.1), ("b", 0.1), ("c", 0.1), ("d", 0.7))
    assert {split_of(f"k{n}", fractions, 0) for n in range(2000)} == {"a", "b", "c", "d"}


def test_split_summary_counts_only():
    record = split_summary("test", DEFAULT_FRACTIONS, 3,
                           ["nih:1", "nih:1", "nih:2", "csv:x", "file:f.png"], ["nih:1", "nih:1", "csv:x"])
    assert record == {"name": "test", "fractions": {"train": 0.8, "val": 0.1, "test": 0.1}, "seed": 3,
                      "rules": {"csv": 1, "file": 1, "nih": 3}, "sources": 3, "groups": 2,
                      "input_sources": 5, "input_groups": 4}
