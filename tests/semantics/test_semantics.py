"""The rules of vigil.eql.semantics, function by function (values chosen from the ES sources cited there)."""

from __future__ import annotations

import re

import pytest

from vigil.eql import semantics as sem
from vigil.errors import UnsupportedError


@pytest.mark.parametrize(("value", "text"), [
    (None, None), (True, "true"), (False, "false"), (1, "1"), (-7, "-7"), (1.0, "1.0"), (2.1828, "2.1828"),
    (1e7, "1.0E7"), (1.5e-4, "1.5E-4"), (123456789.0, "1.23456789E8"), (0.001, "0.001"), ("x", "x"),
])
def test_java_string(value: object, text: object) -> None:
    assert sem.java_string(value) == text


@pytest.mark.parametrize(("args", "expected"), [
    (("314",), 314), (("3.14",), 3.14), (("-3.14",), -3.14), (("3.0",), 3), (("0x1337",), 4919),
    (("0x1337", 16), 4919), (("052403", 8), 21763), (("52403", 7), 12890), (("ff", 16), 255),
    (("+314", 10), None), (("1e5",), None), (("abc",), None), (("0x1337", 10), None), ((None,), None),
])
def test_number(args: tuple, expected: object) -> None:
    assert sem.fn_number(*args) == expected


@pytest.mark.parametrize(("op", "a", "b", "expected"), [
    ("/", 7, 2, 3), ("/", -7, 2, -3), ("/", 7, -2, -3), ("%", -7, 3, -1), ("%", 7, -3, 1), ("/", 7, 0, None),
    ("/", 7.0, 2, 3.5), ("+", 1, None, None), ("*", "a", 2, None), ("-", 5, 7, -2),
])
def test_arithmetic_is_java_like(op: str, a: object, b: object, expected: object) -> None:
    assert sem.arithmetic(op, a, b) == expected


def test_substring_slices_like_python() -> None:
    s = "hello world"
    assert sem.fn_substring(s, -5) == "world"
    assert sem.fn_substring(s, 5, -1) == " worl"
    assert sem.fn_substring(s, -60, 5) == "hello"
    assert sem.fn_substring(s, 8, 3) == ""
    assert sem.fn_substring(None, 1) is None


def test_between_follows_es_not_legacy() -> None:
    s = "welcome to the planet"
    assert sem.fn_between(s, "welcome", "planet") == " to the "
    assert sem.fn_between(s, "welcome", "e", True) == " to the plan"
    assert sem.fn_between(s, "welcome", "x") == ""
    assert sem.fn_between(s, "", "planet") == s
    assert sem.fn_between("Welcome to the Planet", "welcome", "planet", False, True) == " to the "


def test_index_of_and_concat() -> None:
    assert sem.fn_index_of("foobarbaz", "o", 2) == 2
    assert sem.fn_index_of("foobarbaz", "o", -4) == 1
    assert sem.fn_index_of("foobarbaz", "L") is None
    assert sem.fn_concat("a", 1, True, 2.5) == "a1true2.5"
    assert sem.fn_concat("a", None) is None


def test_three_valued_logic_tables() -> None:
    values = (True, False, None)
    for a in values:
        for b in values:
            assert sem.logical_and(a, b) == (False if False in (a, b) else None if None in (a, b) else True)
            assert sem.logical_or(a, b) == (True if True in (a, b) else None if None in (a, b) else False)
    assert sem.logical_not(None) is None


def test_compare_mixed_kinds_is_null() -> None:
    assert sem.compare("==", 3, 3.0) is True
    assert sem.compare("<", "Foo", "foo") is True
    assert sem.compare("==", "1", 1) is None
    assert sem.compare("==", True, 1) is None
    assert sem.compare("<", None, 1) is None


@pytest.mark.parametrize(("text", "nanos"), [
    ("1970-01-01T00:00:00Z", 0), ("1970-01-01T00:00:01.5Z", 1_500_000_000), ("1970-01-01", 0),
    ("1970-01-01T01:00:00+01:00", 0), ("1000", 1_000_000_000), (1000, 1_000_000_000),
    ("1974-03-03T02:22:54.294365140Z", 131509374294365140), ("not a date", None), (True, None),
])
def test_to_instant(text: object, nanos: object) -> None:
    assert sem.to_instant(text) == nanos


def test_fold_case_is_per_character() -> None:
    assert sem.fold_case("ÄPFEL") == "äpfel"
    assert sem.fold_case("STRAßE") == "straße"
    assert sem.fold_case("İx") == "İx"  # its lower case is two characters: kept as is


@pytest.mark.parametrize(("pattern", "yes", "no"), [
    ("a.c", ["abc", "a\nc"], ["ac", "abcd"]),
    ("[0-9]{1,3}", ["1", "123"], ["1234", ""]),
    ("[^-]+", ["abc"], ["a-b"]),
    ("[A-Za-z0-9\\-]*", ["a-b", ""], ["a_b"]),
    ("(ab|cd)+", ["abcd", "ab"], ["abc"]),
    ("\\d+", ["42"], ["4a"]),
    ('"a.b"c', ["a.bc"], ["axbc"]),
    ("@.exe", ["x.exe", ".exe"], ["x.ex"]),
    ("a^b$", ["a^b$"], ["ab"]),
    ("#", [], ["", "#"]),
    ("", [""], ["a"]),
])
def test_lucene_regex(pattern: str, yes: list, no: list) -> None:
    test = sem.regex_matcher(pattern, False)
    for text in yes:
        assert test(text), (pattern, text)
    for text in no:
        assert not test(text), (pattern, text)


@pytest.mark.parametrize("pattern", ["a&b", "~a", "<1-10>", "(a", "[a", "*a", "a{x}"])
def test_lucene_regex_unsupported_or_malformed(pattern: str) -> None:
    with pytest.raises(UnsupportedError):
        sem.lucene_regex(pattern)


def test_regex_translation_is_valid_python() -> None:
    for pattern in ("-[^-]*[uz][^-]*", ".*[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,5})?\\/[^ ]+.*"):
        re.compile(sem.lucene_regex(pattern))


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("*", "", True), ("a*", "abc", True), ("*c", "abc", True), ("*b*", "abc", True), ("a?c", "abc", True),
    ("a?c", "ac", False), ("a*c*e", "abcde", True), ("a.c", "abc", False), ("a%_", "a%_", True),
    ("a%_", "abc", False),
])
def test_wildcards(pattern: str, text: str, expected: bool) -> None:
    assert sem.wildcard_matcher(pattern, False)(text) is expected


def test_function_table_covers_catalogue() -> None:
    from vigil.eql.functions import SIGNATURES

    assert {name.lower() for name in sem.FUNCTIONS} == set(SIGNATURES)
    for name, signature in SIGNATURES.items():
        if signature.insensitive_ok:
            assert sem.function(name, insensitive=True)
    with pytest.raises(UnsupportedError):
        sem.function("length", insensitive=True)
