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

import bisect
import collections
import typing as t

from vigil.engine.dispatch import conjuncts as _conjuncts
from vigil.eql import ast
from vigil.eql.literals import Needle, RequiredLiterals, required_literals

try:  # a C extension: fall back to plain substring tests when it is not installed
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - the fallback itself is tested through use_automaton=False
    _ahocorasick = None

HAS_AUTOMATON = _ahocorasick is not None

#: From this many distinct substring tests on, one automaton pass over a line beats a test per needle.
AUTOMATON_FROM = 32

#: At most this many substring scans of a decoded line to rule a rule out before evaluating it (see
#: `RulePrefilter._set_rule_tests`): measured on 1 KB Defend lines, more cost more than the evaluation they spare.
MAX_RULE_TESTS = 4

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

    `formulas[i]` is rule i's `RequiredLiterals`, or a sequence of them (one per sequence/sample step: the rule needs
    a line when any step may match it), or None when the rule needs every line. `sample` (raw lines) lets the gates
    be chosen by measurement (`calibrate`)."""

    def __init__(
        self,
        formulas: t.Sequence[t.Union[None, RequiredLiterals, t.Sequence[RequiredLiterals]]],
        *,
        use_automaton: bool = True,
        sample: t.Sequence[bytes] = (),
    ):
        self.formulas: list[t.Optional[tuple[RequiredLiterals, ...]]] = [
            None if f is None else (f,) if isinstance(f, RequiredLiterals) else tuple(f) for f in formulas
        ]
        self.always: frozenset[int] = frozenset(i for i, f in enumerate(self.formulas) if not f)
        self.use_automaton = use_automaton
        self.calibrated = False
        self._shared = collections.Counter(
            c for steps in self.formulas if steps for f in steps for c in set(f.clauses)
        )
        self._choose(lambda clause: (self._shared[clause], min(n.score for n in clause)))
        if sample:
            self.calibrate(sample)

    def _choose(self, preference: t.Callable[[Clause], t.Any]) -> None:
        """Gate every step of every rule on its preferred clause; build the union and its line test."""
        self.gates: dict[int, tuple[Clause, ...]] = {
            i: tuple(max(f.clauses, key=preference) for f in steps) for i, steps in enumerate(self.formulas) if steps
        }
        self._set_union()
        self._set_rule_tests(lambda clause: -min(n.score for n in clause))

    def _set_rule_tests(self, rate: t.Callable[[Clause], t.Any]) -> None:
        """Per rule, the substring tests of its rarest clause per step: a line holding none of them cannot match
        the rule (checked on a decoded event's raw line before the rule is evaluated).

        A test that fails must try every text, and each is a scan of the line (~0.3 us on 1 KB): a clause of 60
        names (`process.name in (...)`) costs more than the compiled rule's one set lookup. So only rules whose
        chosen clauses need at most `MAX_RULE_TESTS` scans in all are tested here; the others go straight to
        their compiled query."""
        self.rule_tests: dict[int, tuple[tuple[bytes, bool], ...]] = {}
        for i, steps in enumerate(self.formulas):
            if not steps:
                continue
            chosen = []
            for formula in steps:
                cheap = [c for c in formula.clauses if len(_tests(c)) <= MAX_RULE_TESTS]
                if not cheap:
                    break
                chosen.extend(min(cheap, key=rate))
            else:
                tests = tuple(_tests(chosen))
                if len(tests) <= MAX_RULE_TESTS:
                    self.rule_tests[i] = tests

    def _set_union(self) -> None:
        self.needles: tuple[Needle, ...] = _simplify(
            n for gates in self.gates.values() for gate in gates for n in gate
        )
        self._tests = _tests(self.needles)
        self.uses_automaton = bool(self.use_automaton and HAS_AUTOMATON and len(self._tests) >= AUTOMATON_FROM)
        self._may_match = self._automaton_test() if self.uses_automaton else self._substring_test()

    def calibrate(self, lines: t.Sequence[bytes]) -> None:
        """Re-choose the gates so that the union holds on as few of `lines` as possible (greedy: each step takes
        the clause adding the fewest new lines to what the union already holds). Answers stay correct whatever
        the sample; only the share of lines skipped changes."""
        lines = [line for line in lines if line.strip()]
        if not lines:
            return
        block = b"\n".join(lines) + b"\n"
        lowered = block.lower()
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)
        text_masks: dict[tuple[bytes, bool], int] = {}
        wanted = {test for fs in self.formulas if fs for f in fs for c in f.clauses for test in _tests(c)}
        if self.use_automaton and HAS_AUTOMATON and len(wanted) >= AUTOMATON_FROM:
            text_masks = _automaton_masks(wanted, block, lowered, starts)

        def text_mask(text: bytes, folded: bool) -> int:
            """Which sample lines hold `text`: one search per hit line, jumping to the next line after a hit."""
            key = (text, folded)
            if key not in text_masks:
                hay, bits, pos = (lowered if folded else block), 0, 0
                while True:
                    pos = hay.find(text, pos)
                    if pos < 0:
                        break
                    index = bisect.bisect_right(starts, pos) - 1
                    bits |= 1 << index
                    pos = starts[index + 1]
                text_masks[key] = bits
            return text_masks[key]

        masks: dict[Clause, int] = {}

        def mask(clause: Clause) -> int:
            if clause not in masks:
                bits = 0
                for text, folded in _tests(clause):
                    bits |= text_mask(text, folded)
                masks[clause] = bits
            return masks[clause]

        steps = [(i, f) for i, fs in enumerate(self.formulas) if fs for f in fs]
        # steps whose best clause is common anyway go first: the others may then ride on the lines they add
        steps.sort(key=lambda item: -min(mask(c).bit_count() for c in item[1].clauses))
        union = 0
        chosen: dict[int, list[Clause]] = {}
        for index, formula in steps:
            best = min(formula.clauses, key=lambda c: ((union | mask(c)).bit_count(), -self._shared[c],
                                                       -min(n.score for n in c)))
            union |= mask(best)
            chosen.setdefault(index, []).append(best)
        self.gates = {i: tuple(clauses) for i, clauses in chosen.items()}
        self._set_union()
        self._set_rule_tests(lambda clause: mask(clause).bit_count())
        self.calibrated = True
        self.sample_rate = union.bit_count() / len(lines)

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
        steps = self.formulas[rule]
        return True if not steps else any(f.may_match(line) for f in steps)

    def describe(self) -> dict[str, t.Any]:
        """What the union is made of, for `stats` and docs."""
        return {
            "needles": [str(n) for n in self.needles],
            "tests": len(self._tests),
            "automaton": self.uses_automaton,
            "calibrated": self.calibrated,
            "rules_without_literals": len(self.always),
        }


def _automaton_masks(tests: t.Iterable[tuple[bytes, bool]], block: bytes, lowered: bytes,
                     starts: list[int]) -> dict[tuple[bytes, bool], int]:
    """For every (text, folded) test, the bit mask of the sample lines holding it, from ONE Aho-Corasick pass over
    the lowered sample (thousands of needles: one `bytes.find` scan of the whole sample each took ~2 s per engine).
    Exact-case tests are confirmed against the original bytes at each hit."""
    automaton = _ahocorasick.Automaton(_ahocorasick.STORE_ANY)
    keys: dict[bytes, list[tuple[bytes, bool]]] = {}
    for text, folded in tests:
        keys.setdefault(text.lower(), []).append((text, folded))
    masks: dict[tuple[bytes, bool], int] = {test: 0 for group in keys.values() for test in group}
    for key, group in keys.items():
        if key:
            automaton.add_word(key.decode("latin-1"), tuple(group))
    if not len(automaton):
        return masks
    automaton.make_automaton()
    last_line: dict[tuple[bytes, bool], int] = {}
    line = 0
    for end, group in automaton.iter(lowered.decode("latin-1")):
        if not starts[line] <= end < starts[line + 1]:
            line = bisect.bisect_right(starts, end) - 1
        for test in group:
            if last_line.get(test) == line:
                continue
            text, folded = test
            if (lowered if folded else block)[end - len(text) + 1:end + 1] == text:
                masks[test] |= 1 << line
                last_line[test] = line
    # the empty text is in every line (the find-based path agrees: b"".find gives 0 at each line start)
    for test in keys.get(b"", ()):
        masks[test] = (1 << (len(starts) - 1)) - 1
    return masks


# ------------------------------------------------------------------------------------------- per-rule formulas
def _bounded(expr: ast.Expr) -> bool:
    """Is the literal derivation of this conjunct cheap? An `or` over `and`s makes `required_literals` distribute
    clauses (a product that can take minutes on one rule of the Linux corpus); such conjuncts are left out, which
    only weakens the formula (every remaining clause is still necessary)."""
    if isinstance(expr, ast.Or):
        return not any(isinstance(o, (ast.And, ast.Or)) for o in expr.operands)
    if isinstance(expr, ast.Not):
        return _bounded(expr.operand)
    return True



def step_literals(step: ast.EventQuery) -> t.Optional[RequiredLiterals]:
    """The clauses one event query requires (its category and each cheap top-level conjunct), or None."""
    clauses: list[Clause] = []
    category = required_literals(ast.EventQuery(category=step.category, condition=ast.Literal(True)))
    if category is not None:
        clauses.extend(category.clauses)
    for conjunct in _conjuncts(step.condition):
        if _bounded(conjunct):
            found = required_literals(conjunct)
            if found is not None:
                clauses.extend(c for c in found.clauses if c not in clauses)
    return RequiredLiterals(tuple(clauses)) if clauses else None


def rule_literals(query: ast.Query) -> t.Optional[tuple[RequiredLiterals, ...]]:
    """One formula per step whose events can change the query's result, or None when some step needs every line."""
    from vigil.engine.dispatch import step_queries

    formulas = []
    for step in step_queries(query):
        formula = step_literals(step)
        if formula is None:
            return None
        formulas.append(formula)
    return tuple(formulas)
