"""The EQL language: parse text into a typed tree (`ast`), check it, print it back, and say what it needs.

    parse(text) -> ast.Query          raises EqlSyntaxError / EqlSemanticError with line, column and caret
    parse_expression(text) -> ast.Expr
    to_eql(node) -> str               canonical text; parse(to_eql(q)) == q
"""

from vigil.eql.parser import parse, parse_expression
from vigil.eql.printer import to_eql

__all__ = ["parse", "parse_expression", "to_eql"]
