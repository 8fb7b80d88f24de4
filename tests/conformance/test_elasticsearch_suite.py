"""Every case of Elasticsearch's EQL spec suites (shared/conformance/eql-elasticsearch), run through vigil.

Each case compiles its query with ES's request settings (event category `event.category`, timestamp `@timestamp`,
the index's tiebreaker), runs it over the index data loaded as ES's DataLoader does (see es_spec_loader.py), and compares the
returned ids in order (any one of the alternatives when the case lists several) and the flattened join keys.
Cases in known_differences.toml are expected failures, with the reason shown.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

from tests.conformance.es_spec_loader import INDICES, SUITES, Case, load_cases, load_index

# same resolution as tests/conftest.py's shared_path(): ../shared unless VIGIL_SHARED says otherwise
SHARED = Path(os.environ.get("VIGIL_SHARED", Path(__file__).resolve().parents[2].parent / "shared")).resolve()
SUITE_DIR = SHARED / "conformance" / "eql-elasticsearch"
KNOWN = tomllib.loads((Path(__file__).parent / "known_differences.toml").read_text(encoding="utf-8"))["differences"]
NOT_APPLICABLE = {
    "test_failing_shards.toml": "about shard failures and partial results of a distributed search; vigil has no shards",
}
ES_SIZE = 50  # the spec runner's request size: at most 50 sequences/samples/events come back


def _collect() -> list:
    params = []
    for file, index in SUITES.items():
        path = SUITE_DIR / file
        if not path.exists():
            continue  # held back from the copy: nothing to run
        for case in load_cases(path):
            marks = []
            case_id = f"{file}::{case.name}"
            if file in NOT_APPLICABLE:
                marks.append(pytest.mark.skip(reason=NOT_APPLICABLE[file]))
            elif index not in INDICES:
                marks.append(pytest.mark.skip(reason=f"index {index}: data not in the shared copy or multi-index mappings not modelled"))
            elif case_id in KNOWN:
                marks.append(pytest.mark.xfail(reason=KNOWN[case_id], strict=True))
            params.append(pytest.param(case, id=case_id, marks=marks))
    if not params:
        params.append(pytest.param(None, id="suite-missing", marks=pytest.mark.skip(reason=f"{SUITE_DIR} not found")))
    return params


@lru_cache(maxsize=None)
def _events(index: str) -> tuple:
    return tuple(load_index(SUITE_DIR, index))


def _ids(events: list, id_field: str) -> list[int]:
    return [-1 if event is None else event[id_field] for event in events]


def _key_text(value) -> object:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@pytest.mark.parametrize("case", _collect())
def test_case(case: Case) -> None:
    from vigil.engine import compile_query

    index = INDICES[SUITES[case.file]]
    compiled = compile_query(
        case.query,
        category_field="event.category",
        timestamp_field="@timestamp",
        tiebreaker_field=index.tiebreaker,
        max_samples_per_key=case.max_samples_per_key,
    )
    results = list(compiled.run(_events(index.name)))
    if compiled.kind == "sequence":  # the live interface must give what run() gives
        stream = compiled.stream()
        live = [m for event in _events(index.name) for m in stream.feed(event)] + stream.close()
        assert [m.events for m in live] == [m.events for m in results], "stream() differs from run()"
    if compiled.query.pipes == () or compiled.query.pipes[-1].kind == "head":
        results = results[:ES_SIZE]
    else:
        results = results[-ES_SIZE:]
    got_ids = [i for match in results for i in _ids(match.events, index.id_field)]
    assert got_ids in case.alternatives, f"ids: expected {case.expected}, got {got_ids}"
    if case.join_keys is not None:
        got_keys = [_key_text(k) for match in results for k in (match.join_keys or [])]
        expected_keys = [_key_text(k) for k in case.join_keys]
        assert got_keys == expected_keys, f"join keys: expected {expected_keys}, got {got_keys}"
