"""Elastic exception lists: the model, Kibana's NDJSON format, storage, and evaluation before a rule's query.

    from vigil.exceptions import ExceptionStore, compile_exceptions
    is_excepted = compile_exceptions(store.lists_for_rule(rule), at=execution_start, value_lists=store.value_list)
"""

from vigil.exceptions.evaluate import compile_exceptions
from vigil.exceptions.model import Entry, ExceptionError, ExceptionItem, ExceptionList
from vigil.exceptions.ndjson import read_exception_ndjson, write_exception_ndjson
from vigil.exceptions.spec import describe_entry, parse_entry_spec
from vigil.exceptions.store import ExceptionStore, rule_default_list_id

__all__ = [
    "Entry",
    "ExceptionError",
    "ExceptionItem",
    "ExceptionList",
    "ExceptionStore",
    "compile_exceptions",
    "describe_entry",
    "parse_entry_spec",
    "read_exception_ndjson",
    "rule_default_list_id",
    "write_exception_ndjson",
]
