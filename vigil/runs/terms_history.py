"""The persisted history of a new_terms rule: when each term was last seen, kept in the alert store file.

Kibana answers "was this term seen in the history window?" with a query over the history window at every
execution. vigil does the same over the records it is given (`vigil.runs.new_terms`), but a followed source only
keeps the look-back of the rules in memory, and rotated log files disappear, so the history window (often 5 to 14
days) is usually not all there. This table remembers it.

Table `new_terms_history` (created here with CREATE TABLE IF NOT EXISTS, beside the store's own tables; the alert
store's schema is untouched):

    rule_id      the rule
    fingerprint  sha256 of what decides the terms (fields, query, language, index patterns): a changed rule starts
                 a new history instead of trusting one built by a different query
    term         the term as canonical JSON (a list: one value per new terms field)
    seen_ms      the latest time (epoch ms, aggregatable timestamp) the term was seen **at or before the window
                 start** of the window that saw it (NULL when it was only seen after)
    last_ms      the latest time the term was seen at all

A term is new when it has no event in [history_window_start, window start] (inclusive: Kibana's
`first_seen > from`). Both stored times are times of real events, so either is proof of an event in that range
when it falls inside it. A later execution with window start `from'` uses `last_ms` when it is `<= from'`, else
`seen_ms` (a time after `from'` proves nothing about the range; `seen_ms` is the best earlier proof kept). Rows
whose times are older than the history window can never matter again and are pruned.
"""

from __future__ import annotations

import hashlib
import typing as t

import orjson

from vigil.rules.model import Rule

_SCHEMA = """
CREATE TABLE IF NOT EXISTS new_terms_history (
    rule_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    term        TEXT NOT NULL,
    seen_ms     INTEGER,
    last_ms     INTEGER NOT NULL,
    PRIMARY KEY (rule_id, fingerprint, term)
)
"""

Term = tuple[t.Any, ...]


def term_key(term: t.Sequence[t.Any]) -> str:
    return orjson.dumps(list(term)).decode()


def fingerprint(rule: Rule, fields: t.Sequence[str]) -> str:
    basis = [list(fields), rule.query or "", rule.language or "kuery", list(rule.index)]
    return hashlib.sha256(orjson.dumps(basis)).hexdigest()


class TermsHistory:
    """The stored last-seen times of one rule's terms. `store` is an open `AlertStore` (its file holds the table)."""

    def __init__(self, store: t.Any, rule: Rule, fields: t.Sequence[str]):
        self.store = store
        self.rule_id = rule.rule_id
        self.fingerprint = fingerprint(rule, fields)
        with store.transaction() as conn:
            conn.execute(_SCHEMA)

    def lookup(self, terms: t.Iterable[Term]) -> dict[Term, tuple[t.Optional[int], int]]:
        """Stored (seen_ms, last_ms) of the given terms (absent terms are left out)."""
        wanted = {term_key(term): term for term in terms}
        found: dict[Term, tuple[t.Optional[int], int]] = {}
        keys = list(wanted)
        with self.store.transaction() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = conn.execute(
                    f"SELECT term, seen_ms, last_ms FROM new_terms_history WHERE rule_id = ? AND fingerprint = ? "
                    f"AND term IN ({','.join('?' * len(chunk))})", [self.rule_id, self.fingerprint, *chunk])
                for key, seen, last in rows:
                    found[wanted[key]] = (None if seen is None else int(seen), int(last))
        return found

    @staticmethod
    def evidence(stored: tuple[t.Optional[int], int], window_start_ms: int) -> t.Optional[int]:
        """The latest stored event time usable as proof for a window starting at `window_start_ms`."""
        seen, last = stored
        if last <= window_start_ms:
            return last
        return seen if seen is not None and seen <= window_start_ms else None

    def record(self, seen: t.Mapping[Term, tuple[t.Optional[int], int]], *,
               prune_before_ms: t.Optional[int] = None) -> None:
        """Keep the later of the stored and the given times of each term; drop rows older than `prune_before_ms`."""
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT INTO new_terms_history (rule_id, fingerprint, term, seen_ms, last_ms) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (rule_id, fingerprint, term) DO UPDATE SET "
                "seen_ms = max(coalesce(seen_ms, excluded.seen_ms), coalesce(excluded.seen_ms, seen_ms)), "
                "last_ms = max(last_ms, excluded.last_ms)",
                [(self.rule_id, self.fingerprint, term_key(term), before, last)
                 for term, (before, last) in seen.items()],
            )
            if prune_before_ms is not None:
                conn.execute("DELETE FROM new_terms_history WHERE rule_id = ? AND last_ms < ?",
                             (self.rule_id, prune_before_ms))

    def count(self) -> int:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT count(*) FROM new_terms_history WHERE rule_id = ? AND fingerprint = ?",
                               (self.rule_id, self.fingerprint)).fetchone()
        return int(row[0])
