"""One literal prefilter for many rules: which rules could match this raw line, decided before JSON decoding.

Each rule's `vigil.eql.literals.required_literals` formula (an AND of clauses, each an OR of needles) is necessary
for the rule to match a line. `RulePrefilter.candidates(line)` answers for every rule at once:

* **gated rules**: each rule is indexed under one clause of its formula, its *gate* (the clause that rejects the
  most lines). The needles of all gates (lowered) and their escape triggers go into ONE Aho-Corasick automaton
  (pyahocorasick, C): one scan of the lowered line finds every gate hit, whatever the number of rules. Only the
  rules whose gate was hit get their whole formula checked, with exact substring tests;
* **weak rules**, whose every clause is common (`process`, `linux`, `/bin/`): an automaton would report such words
  dozens of times per line, so these formulas are checked by one generated function that tests each distinct
  needle at most once per line, and first the clauses all of them share (`linux`), so a line failing those costs
  one test;
* rules without a formula (nothing usable in their query) are candidates for every line.

Which clause gates a rule, and whether a rule is weak, is first guessed from `Needle.score` and then measured:
`calibrate(lines)` counts how many sample lines satisfy each clause and re-chooses (`MultiRuleEngine` calibrates on
the first lines it reads). Any choice gives the same answers: every clause is necessary, so the choice only moves
cost. Needles and triggers are honoured exactly as `RequiredLiterals.may_match` does (case-insensitive needles on the
ASCII-lowered line, exact ones on the line itself; a trigger satisfies its needle because the line may spell the
needle another way), so a rule is never dropped for a line it could match.

An empty result means no rule can match the line: skip it unparsed. Without pyahocorasick the gates are found with
one `in` test per distinct gate needle (slower, same answers). The formulas are only valid over documents used as-is
(ECS): never prefilter raw vendor lines before normalizing.
"""

from __future__ import annotations

import typing as t

from vigil.eql.literals import Needle, RequiredLiterals

try:  # a C extension: fall back to plain substring tests when it is not installed
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - the fallback itself is tested through use_automaton=False
    _ahocorasick = None

HAS_AUTOMATON = _ahocorasick is not None

#: A gate whose needles score below this (short or common words) is treated as weak before calibration.
MIN_GATE_SCORE = 3.0
#: After calibration, a rule whose rarest clause holds on more than this share of sample lines is weak.
MAX_GATE_RATE = 0.10

Clause = t.Tuple[Needle, ...]
_EMPTY: frozenset[int] = frozenset()


def _tests(clause: Clause) -> list[tuple[bytes, bool]]:
    """(text, in the lowered line?) substring tests, any of which satisfies the clause: needles and triggers."""
    tests: dict[tuple[bytes, bool], None] = {}
    for needle in clause:
        tests[(needle.text, needle.case_insensitive)] = None
        for trigger in needle.triggers:
            tests[(trigger, False)] = None
    return list(tests)


def _clause_source(clause: Clause, atom: t.Callable[[bytes, bool], str]) -> str:
    return "(" + " or ".join(atom(text, folded) for text, folded in _tests(clause)) + ")"


class RulePrefilter:
    """Which of many rules could match a raw NDJSON line (see the module doc).

    `formulas[i]` is rule i's `RequiredLiterals`, or None when its query gives none (the rule then sees every line).
    """

    def __init__(self, formulas: t.Sequence[t.Optional[RequiredLiterals]], *, use_automaton: bool = True):
        self.formulas = list(formulas)
        self.size = len(self.formulas)
        self.always: frozenset[int] = frozenset(i for i, f in enumerate(self.formulas) if f is None)
        self.use_automaton = use_automaton and HAS_AUTOMATON
        self.calibrated = False
        self._formula_fns = {i: self._formula_function(f) for i, f in enumerate(self.formulas) if f is not None}
        gates: dict[int, Clause] = {}
        for index, formula in enumerate(self.formulas):
            if formula is not None and formula.best_score() >= MIN_GATE_SCORE:
                gates[index] = formula.best_clause()
        self._build(gates)

    # ---------------------------------------------------------------------------------------------- building
    @staticmethod
    def _formula_function(formula: RequiredLiterals) -> t.Callable[[bytes, bytes], bool]:
        """`(line, lowered line) -> bool`: the whole formula as one generated expression of substring tests."""
        namespace: dict[str, t.Any] = {}
        constants: list[bytes] = []

        def atom(text: bytes, folded: bool) -> str:
            constants.append(text)
            return f"C{len(constants) - 1} in {'low' if folded else 'line'}"

        body = " and ".join(_clause_source(clause, atom) for clause in formula.clauses)
        namespace.update({f"C{i}": c for i, c in enumerate(constants)})
        exec(f"def may_match(line, low):\n    return {body}\n", namespace)  # noqa: S102 -- constants by name only
        return namespace["may_match"]

    def _build(self, gates: dict[int, Clause]) -> None:
        """Index the gated rules in one automaton and generate the check of the weak ones."""
        self.gates = gates
        self.weak: frozenset[int] = frozenset(i for i, f in enumerate(self.formulas) if f is not None and i not in gates)
        # lowered gate text -> rules gated on it (exactness is checked by each rule's whole formula afterwards)
        by_key: dict[bytes, set[int]] = {}
        for index, clause in gates.items():
            for text, _folded in _tests(clause):
                by_key.setdefault(text.lower(), set()).add(index)
        self._keys = list(by_key)
        self._rules_by_key = [frozenset(by_key[k]) for k in self._keys]
        self._automaton: t.Any = None
        if self.use_automaton and self._keys:
            automaton = _ahocorasick.Automaton(_ahocorasick.STORE_INTS)
            for key_id, key in enumerate(self._keys):
                # Latin-1 maps each byte to one character and back, so substring tests on the decoded text are byte
                # tests, and decoding a line this way is a plain copy (no UTF-8 validation)
                automaton.add_word(key.decode("latin-1"), key_id)
            automaton.make_automaton()
            self._automaton = automaton
        self._weak_fn = self._weak_function(sorted(self.weak))

    def _weak_function(self, rules: list[int]) -> t.Callable[[bytes, bytes], list[int]]:
        """`(line, low) -> [rule indices]` for the weak rules: each distinct substring test runs at most once (its
        result kept in a local), and the clauses every weak rule shares are tested first."""
        if not rules:
            return lambda line, low: []
        names: dict[tuple[bytes, bool], str] = {}

        def atom(text: bytes, folded: bool) -> str:
            name = names.setdefault((text, folded), f"a{len(names)}")
            hay = "low" if folded else "line"
            return f"({name} if {name} is not None else ({name} := C_{name} in {hay}))"

        clause_sets = {i: set(self.formulas[i].clauses) for i in rules}  # type: ignore[union-attr]
        shared = set.intersection(*clause_sets.values())
        lines = []
        for clause in sorted(shared, key=len):
            lines.append(f"    if not {_clause_source(clause, atom)}:\n        return EMPTY")
        lines.append("    out = []")
        for i in rules:
            rest = [c for c in self.formulas[i].clauses if c not in shared]  # type: ignore[union-attr]
            condition = " and ".join(_clause_source(c, atom) for c in sorted(rest, key=len)) or "True"
            lines.append(f"    if {condition}:\n        out.append({i})")
        lines.append("    return out")
        header = "def weak(line, low):\n"
        if names:
            header += "    " + " = ".join(names.values()) + " = None\n"
        namespace: dict[str, t.Any] = {"EMPTY": []}
        namespace.update({f"C_{name}": text for (text, _), name in names.items()})
        exec(header + "\n".join(lines) + "\n", namespace)  # noqa: S102 -- constants by name, indices are ints
        return namespace["weak"]

    def calibrate(self, lines: t.Sequence[bytes]) -> None:
        """Re-choose each rule's gate as the clause that the fewest of `lines` satisfy; rules whose rarest clause
        still holds on more than `MAX_GATE_RATE` of them become weak. Answers do not change, only their cost."""
        if not lines:
            return
        lowered = [line.lower() for line in lines]
        rate_of: dict[Clause, float] = {}

        def rate(clause: Clause) -> float:
            if clause not in rate_of:
                tests = _tests(clause)
                hits = sum(
                    1 for line, low in zip(lines, lowered)
                    if any(text in (low if folded else line) for text, folded in tests)
                )
                rate_of[clause] = hits / len(lines)
            return rate_of[clause]

        gates: dict[int, Clause] = {}
        for index, formula in enumerate(self.formulas):
            if formula is None:
                continue
            best = min(formula.clauses, key=lambda c: (rate(c), -len(c[0].text)))
            if rate(best) <= MAX_GATE_RATE:
                gates[index] = best
        self._build(gates)
        self.calibrated = True

    # ------------------------------------------------------------------------------------------------ queries
    @property
    def skips_lines(self) -> bool:
        """False when some rule sees every line (no line can ever be skipped); the per-rule sets still narrow."""
        return not self.always

    def candidates(self, line: bytes) -> frozenset[int]:
        """Indices of the rules whose formula `line` satisfies, plus the rules without one. Empty: skip the line."""
        low = line.lower()
        found: t.Optional[set[int]] = None
        if self._automaton is not None:
            keys = {key_id for _, key_id in self._automaton.iter(low.decode("latin-1"))}
        else:
            keys = {key_id for key_id, key in enumerate(self._keys) if key in low}
        if keys:
            rules_by_key = self._rules_by_key
            gated = set().union(*[rules_by_key[k] for k in keys])
            fns = self._formula_fns
            found = {r for r in gated if fns[r](line, low)}
        weak = self._weak_fn(line, low)
        if weak:
            found = found.union(weak) if found else set(weak)
        if not found:
            return self.always
        return self.always.union(found) if self.always else frozenset(found)

    def may_match(self, rule: int, line: bytes) -> bool:
        """Rule `rule`'s own formula on `line` (what `RequiredLiterals.may_match` answers)."""
        fn = self._formula_fns.get(rule)
        return True if fn is None else fn(line, line.lower())
