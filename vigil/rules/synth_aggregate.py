"""Self-tests for the aggregating rule types: threshold and new_terms.

One matching event is not proof that such a rule fires, so the events are built around the rule's aggregation:

* threshold: `threshold.value` copies of one event matching the KQL query (`synthesize()` of it), with the same
  group-by values, spread over a minute; with `cardinality`, the cardinality field takes enough distinct values.
  The near miss is one copy fewer (or, with cardinality, one distinct value too few);
* new_terms: one matching event whose new_terms fields carry a term never seen (empty history). The near miss is
  the same event preceded, inside the history window, by an earlier event with the same term.

The verdict comes from the real hunt path (`vigil.runs.hunt.hunt`, which calls hunt_threshold / hunt_new_terms)
writing to a real AlertStore in a temporary directory: the positive must store >= 1 alert, the negative none.
"""

from __future__ import annotations

import copy
import datetime as dt
import tempfile
import typing as t
from pathlib import Path

from vigil.errors import VigilError
from vigil.rules.synth import BASE_TIME, Event, Synthesis, set_path, synthesize
from vigil.rules.synth_values import PUBLIC_IPS, CannotSynthesize

__all__ = ["synthesize_aggregate", "AGGREGATE_TYPES"]

AGGREGATE_TYPES = ("threshold", "new_terms")
SPREAD = dt.timedelta(minutes=1)  # the threshold copies are spread over this much time


def _rule_ast(rule: t.Any) -> t.Any:
    language = rule.language or "kuery"
    if language != "kuery" or rule.query is None:
        raise CannotSynthesize(f"{rule.type} rule in {language!r}: only KQL queries are synthesized")
    from vigil.kql import kql_query

    return kql_query(rule.query)


def _get(doc: t.Mapping[str, t.Any], name: str) -> t.Any:
    """The value at a dotted path (nested objects or dotted keys), or None."""
    if name in doc:
        return doc[name]
    head, _, rest = name.partition(".")
    child = doc.get(head)
    if rest and isinstance(child, dict):
        return _get(child, rest)
    return None


def _distinct(name: str, n: int) -> list[t.Any]:
    """n made-up distinct values fitting the field's kind (numbers for ids, addresses for ips, else text)."""
    last = name.rsplit(".", 1)[-1]
    if last in ("pid", "ppid", "uid", "gid", "port"):
        return [4242 + i for i in range(n)]
    if last == "ip":
        return [f"203.0.113.{1 + i % 250}" if i >= len(PUBLIC_IPS) else PUBLIC_IPS[i] for i in range(n)]
    return [f"synth-{last}-{i}" for i in range(n)]


def _time_fields(rule: t.Any) -> list[str]:
    names = [rule.timestamp_field or "@timestamp"]
    if rule.timestamp_override and rule.timestamp_override not in names:
        names.append(rule.timestamp_override)
    return names


def _at(doc: Event, rule: t.Any, moment: dt.datetime) -> Event:
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for name in _time_fields(rule):
        set_path(doc, name, text)
    return doc


def _fill(doc: Event, fields_: t.Sequence[str]) -> None:
    """Give each field the query left free a value, so the event lands in a bucket / carries a term."""
    for name in fields_:
        if _get(doc, name) is None:
            set_path(doc, name, _distinct(name, 1)[0])


def _alerts(rule: t.Any, events: t.Sequence[Event], *, from_last: bool = False) -> int:
    """How many alerts the real hunt path stores for these events (`from_last`: only those built from the last
    event, the one under test; an earlier history event of a new_terms near miss is itself new in a hunt)."""
    from vigil.alerts import AlertStore
    from vigil.runs.hunt import hunt
    from vigil.sources.base import Record

    index = (list(rule.index) or ["logs-synth"])[0].replace("*", "synth")
    records = [Record(doc=copy.deepcopy(e), index=index) for e in events]
    with tempfile.TemporaryDirectory(prefix="vigil-synth-") as tmp:
        with AlertStore(Path(tmp) / "alerts.db") as store:
            (result,) = hunt([rule], records, store=store, all_indices=True)
            if result.error:
                raise CannotSynthesize(f"the rule does not run: {result.error}")
            if from_last:
                return sum(1 for a in result.alerts if any(r is records[-1] for r in a.records))
            return len(result.alerts)


def _threshold_events(rule: t.Any, seed: Event) -> tuple[list[Event], list[Event], str]:
    from vigil.runs.query_rule import threshold_spec

    spec = threshold_spec(rule)
    _fill(seed, spec.fields)
    if spec.cardinality:
        name, needed = spec.cardinality[0]
        count = max(spec.value, needed)
        values = _cardinality_values(rule, seed, name, needed)
        # every copy in the group; the cardinality field cycles over `needed` (positive) or `needed - 1` values
        positive = [set_path_copy(seed, name, values[i % needed]) for i in range(count)]
        negative = [set_path_copy(seed, name, values[i % max(needed - 1, 1)]) for i in range(count)]
        if needed <= 1:  # one distinct value always suffices: the near miss can only drop the events
            negative = []
        broken = f"{needed - 1} distinct {name} value(s), {needed} needed"
    else:
        positive = [copy.deepcopy(seed) for _ in range(spec.value)]
        negative = positive[:-1]
        broken = f"{spec.value - 1} event(s) per group, {spec.value} needed"
    for events in (positive, negative):
        step = SPREAD / max(len(events), 1)
        for i, event in enumerate(events):
            _at(event, rule, BASE_TIME + step * i)
    return positive, negative, broken


def _cardinality_values(rule: t.Any, seed: Event, name: str, n: int) -> list[t.Any]:
    """n distinct values of `name` that still match the query. A field the query leaves free takes made-up
    values; one it constrains (e.g. `file.path : /proc/*/cmdline`) keeps its synthesized value with a number
    inserted at the first position where the query still matches (a wildcard's span)."""
    current = _get(seed, name)
    if not isinstance(current, str):
        return _distinct(name, n)
    from vigil.runs.executor import compile_rule

    compiled = compile_rule(rule)
    for cut in range(len(current) + 1):
        candidates = [current[:cut] + str(i) + current[cut:] for i in (0, n - 1)]
        if all(compiled.matches(set_path_copy(seed, name, c)) for c in candidates):
            return [current[:cut] + str(i) + current[cut:] for i in range(n)]
    raise CannotSynthesize(f"no {n} distinct values of {name} match the query")


def set_path_copy(doc: Event, name: str, value: t.Any) -> Event:
    out = copy.deepcopy(doc)
    set_path(out, name, value)
    return out


def _new_terms_events(rule: t.Any, seed: Event) -> tuple[list[Event], list[Event], str]:
    from vigil.runs.query_rule import new_terms_spec

    fields_, history = new_terms_spec(rule)
    _fill(seed, fields_)
    positive = [_at(copy.deepcopy(seed), rule, BASE_TIME)]
    # the earlier event: one minute before, inside any history window (the shortest Elastic uses is days)
    earlier = _at(copy.deepcopy(seed), rule, BASE_TIME - dt.timedelta(minutes=1))
    negative = [earlier, copy.deepcopy(positive[0])]
    return positive, negative, f"the term was already seen inside the history window ({history})"


def synthesize_aggregate(rule: t.Any) -> Synthesis:
    """Synthesize and verify events for a threshold or new_terms rule (see the module doc).

    Raises CannotSynthesize for other types or non-KQL queries; otherwise the verdict and any reason are in the
    returned Synthesis (`positive_ok`, `negative_ok`, `reason`), as for `synthesize()`."""
    if rule.type not in AGGREGATE_TYPES:
        raise CannotSynthesize(f"rule type {rule.type!r} is not an aggregating type")
    query = _rule_ast(rule)
    base = synthesize(query, category_field=rule.event_category_override or "event.category",
                      timestamp_field=rule.timestamp_field or "@timestamp")
    result = Synthesis(query)
    if not base.positive_ok or not base.positive:
        result.reason = f"no matching event for the query: {base.reason}"
        return result
    seed = copy.deepcopy(base.positive[0])
    try:
        build = _threshold_events if rule.type == "threshold" else _new_terms_events
        result.positive, result.negative, result.broken = build(rule, seed)
        result.positive_ok = _alerts(rule, result.positive) >= 1
        if not result.positive_ok:
            result.reason = "the hunt stored no alert for the synthesized events"
            return result
        from_last = rule.type == "new_terms"
        result.negative_ok = _alerts(rule, result.negative, from_last=from_last) == 0 if result.negative else True
        if not result.negative_ok:
            result.reason = "the near miss produced an alert"
    except CannotSynthesize as error:
        result.reason = error.message
    except VigilError as error:
        result.reason = str(error)
    return result
