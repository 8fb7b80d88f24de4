"""One literal prefilter for many rules: lines that no rule can match are skipped before JSON decoding.

Each rule's `vigil.eql.literals.required_literals` formula (an AND of clauses, each an OR of needles) is necessary
for the rule to match a line, so each of its clauses is too. `RulePrefilter` picks one clause per rule, its *gate*,
and unites the gates into ONE clause: a line holding no needle of it (and none of their escape triggers) fails every
rule's gate, so no rule can match it.

Which clause gates a rule decides what a line costs. A clause many rules share (`host.os.type == "linux"` gives the
needle `linux` in 280 of the 287 Linux rules) keeps the union small: a handful of needles, each found in a whole
block by one SIMD pass (`vigil.io.ndjson`'s block scanner). Rare per-rule needles (`nping`, `foomatic-rip`) would
reject more lines one by one, but hundreds of them cost a multi-pattern scan of every byte, and measured on ~1 KB
Elastic Defend lines even a C Aho-Corasick automaton (pyahocorasick, ~40 MB/s here) is slower than decoding a line;
rules are narrowed after decoding instead (`vigil.engine.dispatch`). So each rule is gated on its clause shared by
the most rules, ties broken by `Needle.score`.

`union_literals` is the union as a `RequiredLiterals` of one clause, what `NdjsonReader(prefilter=...)` takes;
`may_match(line)` tests one line (live use): substring tests when the union is small, one Aho-Corasick pass over the
lowered line when it is large (pyahocorasick; a plain loop of `in` tests when it is not installed). Triggers are
honoured as `RequiredLiterals.may_match` does: case-insensitive needles are looked for in the ASCII-lowered line,
exact ones in the line itself, and a trigger (`\\u`, `\\/`, Unicode letters that case-fold onto ASCII) counts as its
needle, because the line may spell the needle another way. A rule without a formula needs every line: then nothing
is skipped (`skips_lines` is False).

The formulas are only valid over documents used as-is (ECS): never prefilter raw vendor lines before normalizing.
"""

from __future__ import annotations

import collections
import typing as t

from vigil.eql.literals import Needle, RequiredLiterals

try:  # a C extension: fall back to plain substring tests when it is not installed
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - the fallback itself is tested through use_automaton=False
    _ahocorasick = None

HAS_AUTOMATON = _ahocorasick is not None

#: From this many distinct substring tests on, one automaton pass over a line beats a test per needle.
AUTOMATON_FROM = 32

Clause = t.Tuple[Needle, ...]


def _tests(needles: t.Iterable[Needle]) -> list[tuple[bytes, bool]]:
    """(text, look in the lowered line?) substring tests, any of which satisfies the needles: texts and triggers."""
    tests: dict[tuple[bytes, bool], None] = {}
    for needle in needles:
        tests[(needle.text, needle.case_insensitive)] = None
        for trigger in needle.triggers:
            tests[(trigger, False)] = None
    return list(tests)


def _simplify(needles: t.Iterable[Needle]) -> tuple[Needle, ...]:
    """Drop needles that a shorter one in the union implies (any line holding `/usr/bin/` holds `/bin/`)."""
    unique = list(dict.fromkeys(needles))

    def implied(longer: Needle) -> bool:
        for shorter in unique:
            if shorter is longer or shorter == longer:
                continue
            if shorter.case_insensitive and shorter.text in longer.text.lower():
                return True
            if not shorter.case_insensitive and not longer.case_insensitive and shorter.text in longer.text:
                return True
        return False

    return tuple(n for n in unique if not implied(n))


class RulePrefilter:
    """The union of many rules' literal gates (see the module doc).

    `formulas[i]` is rule i's `RequiredLiterals`, or None when its query gives none (the rule then needs every line).
    """

    def __init__(self, formulas: t.Sequence[t.Optional[RequiredLiterals]], *, use_automaton: bool = True):
        self.formulas = list(formulas)
        self.always: frozenset[int] = frozenset(i for i, f in enumerate(self.formulas) if f is None)
        shared = collections.Counter(c for f in self.formulas if f is not None for c in set(f.clauses))

        def preference(clause: Clause) -> tuple[int, float]:
            return shared[clause], min(n.score for n in clause)

        self.gates: dict[int, Clause] = {
            i: max(f.clauses, key=preference) for i, f in enumerate(self.formulas) if f is not None
        }
        self.needles: tuple[Needle, ...] = _simplify(n for gate in self.gates.values() for n in gate)
        self._tests = _tests(self.needles)
        self.uses_automaton = bool(use_automaton and HAS_AUTOMATON and len(self._tests) >= AUTOMATON_FROM)
        self._may_match = self._automaton_test() if self.uses_automaton else self._substring_test()

    # ---------------------------------------------------------------------------------------------- building
    def _substring_test(self) -> t.Callable[[bytes], bool]:
        exact = tuple(text for text, folded in self._tests if not folded)
        folded = tuple(text for text, is_folded in self._tests if is_folded)

        def may_match(line: bytes) -> bool:
            for text in exact:
                if text in line:
                    return True
            if folded:
                low = line.lower()
                for text in folded:
                    if text in low:
                        return True
            return False

        return may_match

    def _automaton_test(self) -> t.Callable[[bytes], bool]:
        """One pass over the lowered line finds any test's lowered text; exact texts are then confirmed."""
        automaton = _ahocorasick.Automaton(_ahocorasick.STORE_ANY)
        keys: dict[bytes, list[tuple[bytes, bool]]] = {}
        for text, folded in self._tests:
            keys.setdefault(text.lower(), []).append((text, folded))
        for key, tests in keys.items():
            # Latin-1 maps each byte to one character and back: substring tests on the decoded text are byte tests,
            # and decoding a line this way is a plain copy (no UTF-8 validation)
            automaton.add_word(key.decode("latin-1"), tuple(tests))
        automaton.make_automaton()

        def may_match(line: bytes) -> bool:
            for _end, tests in automaton.iter(line.lower().decode("latin-1")):
                for text, folded in tests:
                    if folded or text in line:
                        return True
            return False

        return may_match

    # ------------------------------------------------------------------------------------------------ queries
    @property
    def skips_lines(self) -> bool:
        """False when some rule needs every line: nothing can be skipped."""
        return not self.always and bool(self.needles)

    @property
    def union_literals(self) -> t.Optional[RequiredLiterals]:
        """The union as a one-clause formula (for `NdjsonReader(prefilter=...)`), or None when nothing can be
        skipped."""
        if not self.skips_lines:
            return None
        return RequiredLiterals((self.needles,))

    def may_match(self, line: bytes) -> bool:
        """False only when no rule can match any document this line could hold."""
        if not self.skips_lines:
            return True
        return self._may_match(line)

    def rule_may_match(self, rule: int, line: bytes) -> bool:
        """Rule `rule`'s own formula (what `RequiredLiterals.may_match` answers); True for rules without one."""
        formula = self.formulas[rule]
        return True if formula is None else formula.may_match(line)

    def describe(self) -> dict[str, t.Any]:
        """What the union is made of, for `stats` and docs."""
        return {
            "needles": [str(n) for n in self.needles],
            "tests": len(self._tests),
            "automaton": self.uses_automaton,
            "rules_without_literals": len(self.always),
        }
