"""All enabled rules over one stream, in one pass: each line read once, decoded at most once, shown only to the
rules that could match it.

    engine = MultiRuleEngine(rules)            # vigil Rules, EQL text, parsed queries or CompiledQuery objects
    for rule, match in engine.run_files(["events.ndjson"]):
        ...                                    # match: vigil.engine.Match (events, join_keys)
    engine.stats.to_dict()                     # lines, skipped, decoded, per-rule fed / matches / sequence state

    # live, one record at a time (events in timestamp order):
    engine.feed_line(raw_bytes) -> [(rule, Match)]      engine.feed(doc) -> [(rule, Match)]      engine.close()

Three stages, each a necessary condition so no match is ever lost (the rules' own compiled queries decide):

1. `prefilter.RulePrefilter`: one literal test over the raw line for all rules (the union of one required clause per
   rule); a line no rule can match is never decoded. In `run_files` the union runs over whole blocks inside
   `vigil.io.ndjson`'s SIMD scanner.
2. `stepindex.StepIndex`: every step of every rule is a bit; each field a step's condition constrains on its own
   (`host.os.type == "linux"`, `process.name : ("bash", "sh")`, the category...) has a memo `value -> bits of the
   steps whose tests on that field hold`, filled the first time a value is met. An event's candidate steps are the
   AND of the masks of a few fields, chosen from a calibration sample (the first lines of the input, or the first
   events fed live).
3. The selected rules run, each step answered from the same memos for its one-field conjuncts (its other
   conjuncts compiled as usual): event queries call that filter, sequences and samples are fed to their own
   `QueryStream` (bounded state: `max_sequence_states` each; evictions and held states are reported per rule).

Rules that cannot run here (not EQL, or a query that does not compile) are kept in `skipped` with the reason and
its location; the others still run.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import typing as t
from dataclasses import asdict, dataclass, field

import orjson
from stringzilla import find

from vigil.engine.prefilter import RulePrefilter, rule_literals
from vigil.engine.query import CompiledQuery, Match, QueryStream, compile_query
from vigil.engine.sequence import DEFAULT_MAX_SEQUENCE_STATES
from vigil.engine.stepindex import RuleIndex
from vigil.eql import ast
from vigil.errors import VigilError

Doc = t.Dict[str, t.Any]
RuleMatch = t.Tuple[t.Any, Match]


@dataclass
class RuleStats:
    """Per-rule counters: events shown to the rule, matches, and (sequences) in-flight states held and evicted."""

    name: str
    kind: str
    fed: int = 0
    matches: int = 0
    states: int = 0
    evicted: int = 0
    no_timestamp: int = 0
    out_of_order: int = 0


@dataclass
class MultiStats:
    """Counters over one engine's input. `lines` counts raw lines seen (blank ones excluded), `skipped` those the
    literal prefilter ruled out undecoded, `events` the documents dispatched, `evaluations` rule-event pairs run."""

    lines: int = 0
    skipped: int = 0
    decoded: int = 0
    bad: int = 0
    events: int = 0
    evaluations: int = 0
    matches: int = 0
    rules: list[RuleStats] = field(default_factory=list)
    prefilter: dict[str, t.Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, t.Any]:
        return asdict(self)


class BadInput(t.NamedTuple):
    """A line `feed_line` could not use: its number among the lines fed, and why."""

    line: int
    reason: str


class _StepMemo:
    """The step predicates of one sequence/sample (or piped event query), evaluated ONCE per event.

    The engine tests an event against every step before feeding it (`pretest`: an event no step matches cannot
    change the result); the stream would then run the same predicates again. Its stages are given `memoized`
    predicates instead, which answer from this memo for the event just pretested (identity, not equality) and
    compute anything else afresh. `forget()` runs after each feed, so a document fed again later (perhaps changed)
    is evaluated again."""

    __slots__ = ("predicates", "doc", "results")

    def __init__(self, predicates: t.Sequence[t.Callable[[Doc], bool]]):
        self.predicates = tuple(predicates)
        self.doc: t.Optional[Doc] = None
        self.results: list[bool] = []

    def pretest(self, doc: Doc, candidates: int = -1) -> bool:
        """Evaluate the steps `candidates` (bit i: predicate i; the step index's mask, shifted) may satisfy; the
        others are known false for this event."""
        if candidates == -1:
            results = [p(doc) for p in self.predicates]
        else:
            results = [bool(candidates >> i & 1) and p(doc) for i, p in enumerate(self.predicates)]
        self.doc = doc
        self.results = results
        return True in results

    def forget(self) -> None:
        self.doc = None

    def memoized(self, predicate: t.Callable[[Doc], bool]) -> t.Callable[[Doc], bool]:
        index = self.predicates.index(predicate)
        memo = self

        def step(event: Doc) -> bool:
            if event is memo.doc:
                return memo.results[index]
            return predicate(event)

        return step


def _memoized_query(compiled: CompiledQuery) -> tuple[CompiledQuery, _StepMemo]:
    """A shallow copy of `compiled` (the caller's object stays as it was) whose step predicates answer from one
    `_StepMemo`, and that memo."""
    own = copy.copy(compiled)
    if compiled.kind == "event":
        memo = _StepMemo([compiled._filter])  # type: ignore[list-item]
        own._filter = memo.memoized(compiled._filter)  # type: ignore[arg-type]
        return own, memo
    steps = [s.predicate for s in compiled._stages] + [s.predicate for s in compiled._sample_steps]
    if compiled._until is not None:
        steps.append(compiled._until.predicate)
    memo = _StepMemo(dict.fromkeys(steps))  # `runs=N` repeats one stage: one evaluation
    own._stages = [dataclasses.replace(s, predicate=memo.memoized(s.predicate)) for s in compiled._stages]
    own._sample_steps = [dataclasses.replace(s, predicate=memo.memoized(s.predicate)) for s in compiled._sample_steps]
    if compiled._until is not None:
        own._until = dataclasses.replace(compiled._until, predicate=memo.memoized(compiled._until.predicate))
    return own, memo


class _Slot:
    """One runnable rule: what the caller passed, its compiled query, and how events reach it."""

    __slots__ = ("rule", "compiled", "stream", "filter", "pretest", "memo", "stats", "first_bit", "bits", "aligned")

    def __init__(self, rule: t.Any, compiled: CompiledQuery, name: str):
        self.rule = rule
        self.compiled = compiled
        self.stats = RuleStats(name=name, kind=compiled.kind)
        # event queries without pipes are a bare filter call; everything else keeps its stream state
        plain = compiled.kind == "event" and not compiled.query.pipes
        self.filter = compiled._filter if plain else None
        self.stream: t.Optional[QueryStream] = None
        self.pretest: t.Optional[t.Callable[[Doc], bool]] = None
        self.memo: t.Optional[_StepMemo] = None
        if not plain:
            # Sequences and samples: an event no step matches cannot change their result (it would only advance
            # the stream's clock), so it is not fed; this spares parsing its timestamp once per rule.
            own, self.memo = _memoized_query(compiled)
            self.pretest = self.memo.pretest
            self.stream = own.stream()
        self.first_bit = 0  # this rule's steps are bits first_bit.. of the step index (set by the engine)
        self.bits = 0
        self.aligned = False


def _rule_name(rule: t.Any) -> str:
    if isinstance(rule, str):
        return rule if len(rule) <= 80 else rule[:77] + "..."
    if isinstance(rule, ast.Query):
        from vigil.eql.printer import to_eql

        return to_eql(rule)
    if isinstance(rule, CompiledQuery):
        return _rule_name(rule.query)
    return str(getattr(rule, "name", None) or getattr(rule, "rule_id", None) or rule)


CALIBRATION_LINES = 2000


def _head_lines(paths: t.Sequence[str], limit: int = CALIBRATION_LINES) -> list[bytes]:
    """The first lines of the first readable file (not stdin, which cannot be read twice), to calibrate on."""
    from vigil.io.ndjson import iter_lines

    for path in paths:
        if path == "-":
            continue
        try:
            return [line for _, line in itertools.islice(iter_lines(path), limit)]
        except VigilError:
            continue
    return []


def _always_true(doc: Doc) -> bool:
    return True


def _json_objects(lines: t.Iterable[bytes]) -> list[Doc]:
    """The JSON objects among `lines` (the head of the input, to plan the step index on)."""
    docs = []
    for line in lines:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if doc.__class__ is dict:
            docs.append(doc)
    return docs


class MultiRuleEngine:
    """Many rules over one ordered stream (see the module doc).

    `rules` may mix vigil `Rule` objects (their EQL settings are honoured: category, timestamp and tiebreaker fields),
    EQL text, `ast.Query` and `CompiledQuery` objects; results name the object that was passed. The keyword settings
    apply to text and parsed queries. `prefilter=False` decodes every line (for comparison and tests)."""

    def __init__(
        self,
        rules: t.Iterable[t.Any],
        *,
        category_field: str = "event.category",
        timestamp_field: str = "@timestamp",
        tiebreaker_field: t.Optional[str] = None,
        max_sequence_states: int = DEFAULT_MAX_SEQUENCE_STATES,
        prefilter: bool = True,
        use_automaton: bool = True,
    ):
        self._settings = dict(category_field=category_field, timestamp_field=timestamp_field,
                              tiebreaker_field=tiebreaker_field, max_sequence_states=max_sequence_states)
        self.slots: list[_Slot] = []
        self.skipped: list[tuple[t.Any, VigilError]] = []
        for rule in rules:
            try:
                compiled = self._compile(rule)
            except VigilError as error:
                self.skipped.append((rule, error))
                continue
            self.slots.append(_Slot(rule, compiled, _rule_name(rule)))
        self.prefilter = RulePrefilter([rule_literals(s.compiled.query) for s in self.slots],
                                       use_automaton=use_automaton)
        self.use_prefilter = prefilter and self.prefilter.skips_lines
        self._completed = False  # True once the slots' predicates are the index's residuals
        routes = RuleIndex([slot.compiled for slot in self.slots], on_calibrated=self._use_index_predicates)
        self.index = routes.steps
        self._rule_of_bit = routes.rule_of_bit
        for i, slot in enumerate(self.slots):
            slot.bits, slot.first_bit = routes.bits[i], routes.first_bit(i)
            # A memo's predicates are the rule's step queries in order (`runs` repeats share one predicate); if
            # they did not line up, every step would be evaluated (still exact, only slower).
            slot.aligned = slot.memo is not None and len(slot.memo.predicates) == slot.bits.bit_count()
        self._stats = MultiStats(prefilter=self.prefilter.describe())
        self.bad_lines: list[BadInput] = []
        self.keep_bad = 1000
        self.reader: t.Any = None  # the NdjsonReader of the last run_files(), for its bad lines and errors
        self._closed = False

    # ------------------------------------------------------------------------------------------- compiling
    def _compile(self, rule: t.Any) -> CompiledQuery:
        if isinstance(rule, CompiledQuery):
            return rule
        if isinstance(rule, (str, ast.Query)):
            return compile_query(rule, **self._settings)  # type: ignore[arg-type]
        language = getattr(rule, "language", None)
        query = getattr(rule, "query", None)
        if language not in (None, "eql") or not query or not getattr(rule, "runnable", True):
            where = rule.location_of("language") if hasattr(rule, "location_of") else None
            raise VigilError(f"{_rule_name(rule)}: not an EQL rule (type {getattr(rule, 'type', '?')!r}, "
                             f"language {language!r}); the multi-rule engine runs EQL rules", where)
        try:
            return compile_query(
                query,
                category_field=getattr(rule, "event_category_override", None) or "event.category",
                timestamp_field=getattr(rule, "timestamp_field", None) or "@timestamp",
                tiebreaker_field=getattr(rule, "tiebreaker_field", None),
                max_sequence_states=self._settings["max_sequence_states"],  # type: ignore[arg-type]
            )
        except VigilError as error:
            if error.location is None or error.location.path is None:
                where = rule.location_of("query") if hasattr(rule, "location_of") else None
                if where is not None:
                    error.hint = f"in the query of {where}" + (f"; {error.hint}" if error.hint else "")
            raise

    def _use_index_predicates(self) -> None:
        """Once the index knows which fields repeat their values: `feed` narrows each event's candidates with
        `StepIndex.complete` (every memoized one-field conjunct of every candidate step, each field read once), so a
        step that survives is decided by its residual conjuncts alone (the verdicts its compiled filter would give;
        wildcards, regexes and CIDR tests on a value seen before come from a dict)."""
        always = _always_true
        for slot in self.slots:
            if slot.compiled.kind == "event" and not slot.compiled.query.pipes:
                slot.filter = self.index.residual_predicate(slot.first_bit) or always
            elif slot.aligned:
                slot.memo.predicates = tuple(  # type: ignore[union-attr]
                    self.index.residual_predicate(slot.first_bit + i) or always
                    for i in range(len(slot.memo.predicates)))  # type: ignore[union-attr]
        self._completed = True

    def candidates(self, doc: Doc) -> set[int]:
        """Indexes of the rules the step index shows `doc` to (a superset of those it can match)."""
        mask = self.index.mask(doc)
        return {i for i, slot in enumerate(self.slots) if mask & slot.bits}

    @property
    def rules(self) -> list[t.Any]:
        """The rules that run, in the order given."""
        return [s.rule for s in self.slots]

    # -------------------------------------------------------------------------------------------- feeding
    def feed_line(self, raw: bytes) -> list[RuleMatch]:
        """One raw NDJSON line: skipped undecoded when no rule's literals are in it, else decoded and fed."""
        stats = self._stats
        stats.lines += 1
        if self.use_prefilter and not self.prefilter.may_match(raw):
            stats.skipped += 1
            return []
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if not raw.strip():
                stats.lines -= 1
                return []
            self._bad(f"malformed JSON: {error}")
            return []
        if doc.__class__ is not dict:
            self._bad(f"not a JSON object (a {type(doc).__name__})")
            return []
        stats.decoded += 1
        return self.feed(doc, raw)

    def _bad(self, reason: str) -> None:
        self._stats.bad += 1
        if len(self.bad_lines) < self.keep_bad:
            self.bad_lines.append(BadInput(self._stats.lines, reason))

    def feed(self, doc: Doc, raw: t.Optional[bytes] = None) -> list[RuleMatch]:
        """One decoded event (in timestamp order): the matches it completes, in rule order. `raw`, the line it was
        decoded from, lets each selected rule first check its rarest required literal on the bytes (cheaper than
        evaluating it); pass it only when `doc` is that line's JSON as-is."""
        stats = self._stats
        stats.events += 1
        mask = self.index.mask(doc)
        if mask and self._completed:
            mask = self.index.complete(doc, mask)
        if not mask:
            return []
        out: list[RuleMatch] = []
        slots = self.slots
        rule_of_bit = self._rule_of_bit
        rule_tests = self.prefilter.rule_tests if raw is not None and self.use_prefilter else None
        low: t.Optional[bytes] = None
        candidates = mask
        while mask:
            index = rule_of_bit[(mask & -mask).bit_length() - 1]
            slot = slots[index]
            mask &= ~slot.bits  # rules in order: the lowest bit set belongs to the next rule
            if rule_tests is not None:
                tests = rule_tests.get(index)
                if tests is not None:
                    for text, folded in tests:
                        if folded:
                            if low is None:
                                low = raw.lower()  # type: ignore[union-attr]
                            if find(low, text) >= 0:
                                break
                        elif find(raw, text) >= 0:  # type: ignore[arg-type]
                            break
                    else:
                        continue
            stats.evaluations += 1
            slot.stats.fed += 1
            if slot.filter is not None:
                if slot.filter(doc):
                    slot.stats.matches += 1
                    out.append((slot.rule, Match([doc])))
            elif (slot.pretest(doc, candidates >> slot.first_bit) if slot.aligned  # type: ignore[misc]
                  else slot.pretest(doc)):  # type: ignore[misc]
                found = slot.stream.feed(doc)  # type: ignore[union-attr]
                slot.memo.forget()  # type: ignore[union-attr]
                if found:
                    slot.stats.matches += len(found)
                    out.extend((slot.rule, m) for m in found)
        stats.matches += len(out)
        return out

    def close(self) -> list[RuleMatch]:
        """End of input: the results sequences and pipes were holding back. Feeding after this gives nothing new
        for sequences (their streams are finished)."""
        out: list[RuleMatch] = []
        if self._closed:
            return out
        self._closed = True
        for slot in self.slots:
            if slot.stream is not None:
                found = slot.stream.close()
                slot.stats.matches += len(found)
                out.extend((slot.rule, m) for m in found)
        self._stats.matches += len(out)
        return out

    def run_files(self, paths: t.Union[str, t.Iterable[str]], *, keep_bad: int = 1000,
                  progress: t.Any = None) -> t.Iterator[RuleMatch]:
        """Every match of every rule over NDJSON files (plain, .gz, .zst, `-`), events in file order, then
        `close()`. Bad lines are counted and kept in `self.reader.bad_lines`; unreadable files in
        `self.reader.errors`; the rest is still read."""
        from vigil.io.ndjson import NdjsonReader

        paths = [paths] if isinstance(paths, str) else list(paths)
        calibrate_prefilter = self.use_prefilter and not self.prefilter.calibrated
        if calibrate_prefilter or not self.index.calibrated:
            head = _head_lines(paths)  # read once for both calibrations
            if calibrate_prefilter:
                self.prefilter.calibrate(head)
                self._stats.prefilter = self.prefilter.describe()
            if not self.index.calibrated:
                self.index.calibrate(_json_objects(head))
        union = self.prefilter.union_literals if self.use_prefilter else None
        reader = self.reader = NdjsonReader(paths, prefilter=union, keep_bad=keep_bad, progress=progress)
        stats = self._stats
        feed = self.feed
        before = (stats.lines, stats.skipped, stats.decoded, stats.bad)
        try:
            for item in reader:
                found = feed(item.doc, item.raw)
                if found:
                    yield from found
        finally:
            read = reader.stats
            stats.lines = before[0] + read.lines - read.blank
            stats.skipped = before[1] + read.skipped
            stats.decoded = before[2] + read.parsed
            stats.bad = before[3] + read.bad
        yield from self.close()

    # ---------------------------------------------------------------------------------------------- stats
    @property
    def stats(self) -> MultiStats:
        """Counters so far, with each rule's sequence state read now."""
        for slot in self.slots:
            stream = slot.stream
            if stream is not None:
                matcher = stream._sequence
                slot.stats.states = matcher.states if matcher is not None else 0
                slot.stats.evicted = stream.evicted
                slot.stats.no_timestamp = stream.no_timestamp
                slot.stats.out_of_order = stream.out_of_order
        self._stats.rules = [s.stats for s in self.slots]
        return self._stats
