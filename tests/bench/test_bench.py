"""The benchmark's generator and harness: deterministic data, a truth that vigil's own engine agrees with, and a
harness that times real commands and fails loudly when a tool reports other matches than the planted ones."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import gen_events  # noqa: E402
import run  # noqa: E402

from vigil.engine import compile_query  # noqa: E402


def generate(n: int, seed: int = 7, rate: float = 2e-3) -> tuple[bytes, dict]:
    out = io.BytesIO()
    truth = gen_events.generate(n, seed, out, rate, rate)
    return out.getvalue(), truth


def test_same_seed_same_bytes_other_seed_other_bytes():
    first, _ = generate(1500, seed=3)
    again, _ = generate(1500, seed=3)
    other, _ = generate(1500, seed=4)
    assert first == again
    assert first != other


def test_truth_agrees_with_vigil_engine_and_raw_scan():
    data, truth = generate(3000)
    lines = data.splitlines()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == truth["events"] == 3000
    assert truth["bytes"] == len(data)

    nping = compile_query(run.NPING_QUERY)
    assert sorted(d["event"]["id"] for d in docs if nping.matches(d)) == truth["nping_ids"]
    assert len(truth["nping_ids"]) == 6
    no_literal = compile_query(run.NO_LITERAL_QUERY)
    assert sum(no_literal.matches(d) for d in docs) == truth["no_literal_matches"] > 0
    # Only planted lines spell nping: grep -c counts exactly the true positives and the near misses.
    assert sum(b"nping" in line for line in lines) == truth["grep_nping_lines"] == 6 + 9 * 6
    assert sorted(truth["near_misses"]) == sorted(gen_events.NEAR_MISSES)


def test_true_positives_use_every_action_of_the_rule():
    data, truth = generate(3000, rate=4e-3)  # 12 true positives: 6 exec, then the other five actions
    wanted = set(truth["nping_ids"])
    actions = [d["event"]["action"] for d in map(json.loads, data.splitlines()) if d["event"]["id"] in wanted]
    assert sorted(set(actions)) == sorted(gen_events.RULE_ACTIONS)
    assert actions.count("exec") == 6


def test_events_look_like_defend_documents():
    data, _ = generate(2000)
    docs = [json.loads(line) for line in data.splitlines()]
    sizes = sorted(len(line) for line in data.splitlines())
    assert 800 < sizes[len(sizes) // 2] < 1500
    assert {d["host"]["os"]["type"] for d in docs} == {"linux", "windows", "macos"}
    assert {d["event"]["category"][0] for d in docs} == {"process", "network", "file"}
    assert all(isinstance(d["event"]["type"], list) for d in docs)
    assert all(d["process"]["args_count"] == len(d["process"]["args"]) for d in docs if "args" in d["process"])


def test_harness_times_tools_and_checks_their_matches(tmp_path):
    out = tmp_path / "bench.md"
    status = run.main(["-n", "2000", "--reps", "1", "--only", "grep,vigil,noliteral", "--nping-rate", "2e-3",
                       "--near-miss-rate", "2e-3", "--data-dir", str(tmp_path / "data"), "--out", str(out),
                       "--no-profile", "-q"])
    assert status == 0
    text = out.read_text()
    assert "all agree" in text
    assert "vigil ≤ 1.3× grep" in text
    assert "| `vigil query` (Nping rule) | 2,000 | 4 |" in text


def test_a_tool_reporting_other_matches_is_a_mismatch(tmp_path):
    output = tmp_path / "ids.txt"
    output.write_text("a\nc\n")
    tool = run.Tool("x", "x", [], tmp_path, 1, run.ids_check(["a", "b"], run.plain_ids))
    problem = tool.check(tool, output)
    assert problem is not None and "missing ['b']" in problem and "unexpected ['c']" in problem
    assert tool.matches == 2


def test_unknown_part_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--only", "grep,nosuch"])
    assert exit_info.value.code == 2
    assert "nosuch" in capsys.readouterr().err
