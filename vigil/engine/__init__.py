"""The streaming evaluator: compiled EQL queries over ordered events (see docs/architecture.md).

    from vigil.engine import compile_query, Match
    cq = compile_query('process where process.name == "nping"')
    cq.matches(event); cq.run(events); cq.stream().feed(event)
"""

from vigil.engine.query import CompiledQuery, Match, QueryStream, compile_query, sort_key, timestamp_ns
from vigil.engine.sequence import DEFAULT_MAX_SEQUENCE_STATES

__all__ = [
    "DEFAULT_MAX_SEQUENCE_STATES",
    "CompiledQuery",
    "Match",
    "QueryStream",
    "compile_query",
    "sort_key",
    "timestamp_ns",
]
