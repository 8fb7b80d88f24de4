"""Rule execution statuses and the exact texts Kibana writes with them (kibana-engine.md §6).

Kibana joins several warnings with `Array.prototype.join()`, i.e. a bare comma, and wraps execution errors as
`An error occurred during rule execution: message: "..."`; vigil writes the same strings so that monitoring built
on Kibana's messages keeps working.
"""

from __future__ import annotations

import json
import typing as t

SUCCEEDED = "succeeded"
PARTIAL_FAILURE = "partial failure"
FAILED = "failed"

SUCCESS_MESSAGE = "Rule execution completed successfully"
MAX_SIGNALS_WARNING = "This rule reached the maximum alert limit for the rule execution. Some alerts were not created."


def js_list(values: t.Iterable[str]) -> str:
    """`JSON.stringify(array)`: `["a","b"]`, no spaces."""
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)


def no_index_warning(patterns: t.Iterable[str]) -> str:
    return (
        'This rule is attempting to query data from Elasticsearch indices listed in the "Index patterns" section of '
        f"the rule definition, however no index matching: {js_list(patterns)} was found. This warning will continue "
        "to appear until a matching index is created or this rule is disabled."
    )


def missing_timestamp_warning(field: str, indices: t.Iterable[str]) -> str:
    return f'The following indices are missing the timestamp override field "{field}": {js_list(sorted(indices))}'


def error_message(errors: t.Iterable[str]) -> str:
    return f'An error occurred during rule execution: message: "{",".join(errors)}"'


def final_status(warnings: t.Sequence[str], errors: t.Sequence[str], gap_errors: t.Sequence[str]) -> tuple[str, str]:
    """(status, message): any error (the gap included) fails the run; warnings alone are a partial failure."""
    if errors or gap_errors:
        parts = list(gap_errors) + ([error_message(errors)] if errors else [])
        return FAILED, "; ".join(parts)
    if warnings:
        return PARTIAL_FAILURE, ",".join(warnings)
    return SUCCEEDED, SUCCESS_MESSAGE
