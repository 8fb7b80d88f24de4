"""The step queries of a rule, and how selective common ECS fields are: shared by the one-pass engine's step index
(`vigil.engine.stepindex`), the literal prefilter and the compiler's conjunct ordering.

Every step of a rule (the event query itself; each step, `until` and `![...]` step of a sequence; each step of a
sample) is an event query whose matches can change the rule's result; an event no step matches cannot.
"""

from __future__ import annotations

import typing as t

from vigil.eql import ast

#: Fields that hold nearly the same value in every event of a platform: poor tests to try first.
UNSELECTIVE = frozenset({"host.os.type", "host.os.family", "host.os.platform", "host.os.name", "agent.type",
                         "event.kind", "event.module", "ecs.version", "data_stream.type", "data_stream.namespace"})
#: Fields with a few values each shared by many events: second choice.
COARSE = frozenset({"event.type", "event.action", "event.outcome", "event.dataset", "data_stream.dataset"})


def step_queries(query: ast.Query) -> list[ast.EventQuery]:
    """Every event query whose matches can change the rule's result: all steps, `until`, missing steps."""
    body = query.body
    if isinstance(body, ast.EventQuery):
        return [body]
    steps = [step.query for step in body.steps]
    if isinstance(body, ast.Sequence) and body.until is not None:
        steps.append(body.until.query)
    return steps


def conjuncts(expr: ast.Expr) -> t.Iterator[ast.Expr]:
    """The operands of a (nested) top-level `and`, or the expression itself."""
    if isinstance(expr, ast.And):
        for operand in expr.operands:
            yield from conjuncts(operand)
    else:
        yield expr
