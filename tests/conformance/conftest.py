"""Conformance-suite plumbing: per-file pass/fail/skip table at the end of the session (shown with or without -s)."""

from __future__ import annotations

from collections import defaultdict

import pytest

_RESULTS: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    file = getattr(item, "callspec", None) and item.callspec.params.get("case")
    if file is None or not hasattr(file, "file"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if hasattr(report, "wasxfail"):
            status = "xpass" if report.outcome == "passed" else "xfail"
        else:
            status = {"passed": "pass", "failed": "fail", "skipped": "skip"}[report.outcome]
        _RESULTS[file.file][status] += 1


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    columns = ("pass", "xfail", "fail", "xpass", "skip")
    tr = terminalreporter
    tr.section("EQL conformance (Elasticsearch spec suites)")
    tr.write_line(f"{'file':<32}" + "".join(f"{c:>7}" for c in columns) + f"{'total':>7}")
    totals = defaultdict(int)
    for file in sorted(_RESULTS):
        row = _RESULTS[file]
        for c in columns:
            totals[c] += row[c]
        tr.write_line(f"{file:<32}" + "".join(f"{row[c]:>7}" for c in columns) + f"{sum(row.values()):>7}")
    tr.write_line(f"{'total':<32}" + "".join(f"{totals[c]:>7}" for c in columns) + f"{sum(totals.values()):>7}")
