"""KQL (Kibana Query Language), the language of Elastic's query, new_terms and threshold rules, compiled into
vigil's EQL syntax tree so the same evaluator runs it with Kibana's meaning.

    compile_kql(text, *, field_types=None) -> vigil.eql.ast.Expr
    kql_query(text, *, field_types=None) -> vigil.eql.ast.Query      `any where <condition>`
    parse_kql(text) -> vigil.kql.tree.Node                          the KQL tree itself

Errors: KqlSyntaxError (an EqlSyntaxError) and KqlUnsupportedError (an UnsupportedError), both located.
See docs/kql.md.
"""

from vigil.kql.compile import compile_kql, compile_tree, kql_query
from vigil.kql.errors import KqlSyntaxError, KqlUnsupportedError
from vigil.kql.parser import parse_kql

__all__ = ["compile_kql", "compile_tree", "kql_query", "parse_kql", "KqlSyntaxError", "KqlUnsupportedError"]
