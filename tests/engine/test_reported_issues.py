"""Behaviour the Elasticsearch suite expects from modules outside the engine's sequence/sample code.

Each test states ES's answer for a case the conformance suite found (here: test_extra.toml::
sequenceOptionalFieldAsQueryKeysOnly, where ES folds unmapped optional fields to null and `null == null` is true).
"""

from __future__ import annotations

import pytest


def test_two_absent_optional_fields_compare_equal():
    from vigil.engine.compiler import compile_event_filter
    from vigil.eql import parse

    query = parse("ERROR where ?x == ?y").body
    assert compile_event_filter(query, category_field="event.category")({"event": {"category": "ERROR"}})
