"""Matching KQL values against analysed text fields (`message`, `*.text`) with vigil's Lucene-regex matcher.

Elasticsearch splits a text field into lower-cased words with the standard analyzer and a `match` query matches a
document when any word of the value is a word of the field; `match_phrase` (a quoted value) needs the words next to
each other; a `query_string` wildcard term (`segf*`) is lower-cased and matched against single words. vigil keeps
no index of words, so each of these becomes a whole-value `regex~` pattern that requires word boundaries around the
words. **Approximation:** a word here is a run of ASCII letters, digits and `_` (the standard analyzer follows
Unicode word rules: it also keeps `can't` and `example.com` as one word, and splits non-ASCII text its own way).
"""

from __future__ import annotations

import re
import typing as t

from vigil.kql.tree import WILDCARD, Part

__all__ = ["words", "any_word_pattern", "phrase_pattern", "wildcard_word_pattern"]

_WORD_CHARS = "A-Za-z0-9_"
_BEFORE = f"(.*[^{_WORD_CHARS}])?"  # start of the value, or anything ending in a non-word character
_AFTER = f"([^{_WORD_CHARS}].*)?"
_GAP = f"[^{_WORD_CHARS}]+"
_WORD = re.compile(r"[A-Za-z0-9_]+")


def words(text: str) -> list[str]:
    """The lower-cased words of `text`, as the analyser would index them (ASCII approximation)."""
    return _WORD.findall(text.lower())


def escape(text: str) -> str:
    """Literal text inside a Lucene regular expression: every non-alphanumeric character backslash-escaped."""
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in text)


def any_word_pattern(tokens: t.Sequence[str]) -> str:
    """A value that contains any of `tokens` as a whole word (a `match` query, operator OR)."""
    body = "|".join(escape(w) for w in tokens)
    return f"{_BEFORE}({body}){_AFTER}"


def phrase_pattern(tokens: t.Sequence[str]) -> str:
    """A value that contains `tokens` as consecutive words (a `match_phrase` query)."""
    return _BEFORE + _GAP.join(escape(w) for w in tokens) + _AFTER


def wildcard_word_pattern(parts: t.Sequence[Part]) -> str:
    """A value with one word matching the wildcard term `parts` (lower-cased; `*` stays inside one word)."""
    body = "".join(f"[{_WORD_CHARS}]*" if p is WILDCARD else escape(p.lower()) for p in parts)
    return _BEFORE + body + _AFTER
