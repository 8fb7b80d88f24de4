"""One literal prefilter for many rules: which rules could match this raw line, decided before JSON decoding.

Each rule's `vigil.eql.literals.required_literals` formula (an AND of clauses, each an OR of needles) is necessary
for the rule to match a line. `RulePrefilter.candidates(line)` evaluates every rule's formula in one pass:

* every needle text (lowered) and every escape trigger of every rule goes into ONE Aho-Corasick automaton
  (pyahocorasick, C); one scan of the lowered line finds all of them at once, whatever the number of rules;
* a hit on a lowered key is confirmed per needle: case-insensitive needles are satisfied by the lowered line, exact
  needles only when their exact bytes are in the line (`"NPING"` must not satisfy `== "nping"`); a trigger (`\\u`,
  `\\/`, Unicode characters that case-fold onto ASCII letters) satisfies every needle it belongs to, because the line
  might spell that needle another way (see `vigil.eql.literals`);
* each rule is indexed under the needles of one clause (its *gate*, the clause that looks most selective): only
  rules whose gate was hit get their whole formula checked;
* rules without a formula (nothing usable in their query) are candidates for every line.

An empty result means no rule can match the line: it may be skipped unparsed. Without pyahocorasick the same
sets are computed with one `in` test per distinct key (slower, same answers).

The formulas are only valid over documents used as-is (ECS): never prefilter raw vendor lines before normalizing.
"""

from __future__ import annotations

import typing as t

from vigil.eql.literals import Needle, RequiredLiterals

try:  # a C extension: fall back to plain substring tests when it is not installed
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - exercised by the fallback tests through use_automaton=False
    _ahocorasick = None

HAS_AUTOMATON = _ahocorasick is not None


class _Atom(t.NamedTuple):
    """A byte string whose presence in a line is tested: a needle's text, or a trigger. `exact` atoms must be in
    the line byte for byte; the others only in the ASCII-lowered line."""

    text: bytes
    exact: bool


class RulePrefilter:
    """Which of many rules could match a raw NDJSON line (see the module doc).

    `formulas[i]` is rule i's `RequiredLiterals`, or None when its query gives none (the rule then sees every line).
    """

    def __init__(self, formulas: t.Sequence[t.Optional[RequiredLiterals]], *, use_automaton: bool = True):
        self.size = len(formulas)
        self.always: frozenset[int] = frozenset(i for i, f in enumerate(formulas) if f is None)
        atom_ids: dict[_Atom, int] = {}

        def atom(text: bytes, exact: bool) -> int:
            return atom_ids.setdefault(_Atom(text, exact), len(atom_ids))

        def needle_atoms(needle: Needle) -> frozenset[int]:
            ids = {atom(needle.text, not needle.case_insensitive)}
            ids.update(atom(trigger, True) for trigger in needle.triggers)
            return frozenset(ids)

        # rule -> its clauses as sets of atom ids (a clause holds when any of its atoms is present)
        self._clauses: dict[int, tuple[frozenset[int], ...]] = {}
        gated_by: dict[int, set[int]] = {}  # atom id -> rules whose gate holds when it is present
        for index, formula in enumerate(formulas):
            if formula is None:
                continue
            clauses = tuple(frozenset().union(*(needle_atoms(n) for n in clause)) for clause in formula.clauses)
            # cheapest-to-fail first: fewer atoms usually means a rarer clause
            self._clauses[index] = tuple(sorted(clauses, key=len))
            for atom_id in frozenset().union(*(needle_atoms(n) for n in formula.best_clause())):
                gated_by.setdefault(atom_id, set()).add(index)
        self.atoms: list[_Atom] = list(atom_ids)
        self._gated_by: dict[int, frozenset[int]] = {a: frozenset(rules) for a, rules in gated_by.items()}

        # lowered key -> the atoms it stands for (several atoms can share one lowered key: "Nping" and "nping")
        keys: dict[bytes, list[int]] = {}
        for atom_id, (text, _exact) in enumerate(self.atoms):
            keys.setdefault(text.lower(), []).append(atom_id)
        self._keys: list[tuple[bytes, tuple[tuple[int, bytes, bool], ...]]] = [
            (key, tuple((a, self.atoms[a].text, self.atoms[a].exact) for a in ids)) for key, ids in keys.items()
        ]
        self.uses_automaton = bool(use_automaton and HAS_AUTOMATON and self._keys)
        self._automaton: t.Any = None
        if self.uses_automaton:
            automaton = _ahocorasick.Automaton(_ahocorasick.STORE_INTS)
            for key_id, (key, _) in enumerate(self._keys):
                # Latin-1 maps each byte to one character and back: substring tests on the decoded text are byte
                # tests, and decoding a line this way is a plain copy (no UTF-8 validation)
                automaton.add_word(key.decode("latin-1"), key_id)
            automaton.make_automaton()
            self._automaton = automaton

    # ------------------------------------------------------------------------------------------------- queries
    @property
    def skips_lines(self) -> bool:
        """False when some rule sees every line (no line can ever be skipped); the per-rule sets still narrow."""
        return not self.always

    def present_atoms(self, line: bytes) -> set[int]:
        """The atoms found in `line` (exact ones confirmed against the line itself)."""
        low = line.lower()
        if self._automaton is not None:
            hit_keys = {key_id for _, key_id in self._automaton.iter(low.decode("latin-1"))}
            found = [self._keys[k] for k in hit_keys]
        else:
            found = [entry for entry in self._keys if entry[0] in low]
        present: set[int] = set()
        for _key, atoms in found:
            for atom_id, text, exact in atoms:
                if not exact or text in line:
                    present.add(atom_id)
        return present

    def candidates(self, line: bytes) -> frozenset[int]:
        """Indices of the rules whose formula `line` satisfies, plus the rules without one. Empty: skip the line."""
        present = self.present_atoms(line)
        if not present:
            return self.always
        gated: set[int] = set()
        gated_by = self._gated_by
        for atom_id in present:
            rules = gated_by.get(atom_id)
            if rules:
                gated.update(rules)
        clauses = self._clauses
        out = [r for r in gated if all(not clause.isdisjoint(present) for clause in clauses[r])]
        if not out:
            return self.always
        return self.always.union(out)

    def may_match(self, rule: int, line: bytes) -> bool:
        """Rule `rule`'s own formula on `line` (what `RequiredLiterals.may_match` answers), for tests and tools."""
        if rule not in self._clauses:
            return True
        present = self.present_atoms(line)
        return all(not clause.isdisjoint(present) for clause in self._clauses[rule])
