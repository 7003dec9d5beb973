"""Safe arithmetic for verifiers: numbers and + - * / ( ) only, evaluated exactly.

Model text is never passed to eval: expressions are parsed with `ast` and only
number literals, the four operations, unary minus and parentheses are allowed.
Results are exact fractions, so "0.1 + 0.2 = 0.3" checks out.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class NotArithmetic(ValueError):
    pass


def to_number(text: str) -> Fraction:
    """'1,250.5' -> Fraction(2501, 2); '3/4' -> Fraction(3, 4)."""
    cleaned = text.replace(",", "").replace("$", "").strip()
    try:
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        raise NotArithmetic(f"not a number: {text!r}") from None


def evaluate(expression: str) -> Fraction:
    """The exact value of an arithmetic expression (× ÷ and thousands separators allowed)."""
    text = expression.replace("×", "*").replace("÷", "/").replace("x", "*")
    text = THOUSANDS.sub("", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise NotArithmetic(f"not an arithmetic expression: {expression!r}") from None
    return _value(tree.body)


def _value(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise NotArithmetic("division by zero")
        return left / right
    raise NotArithmetic("only numbers, + - * / and parentheses are checked")


def show(value: Fraction) -> str:
    """A fraction as people write it: 12, 2.5, or 1/3."""
    if value.denominator == 1:
        return str(value.numerator)
    decimal = float(value)
    if Fraction(str(decimal)) == value:
        return str(decimal)
    return f"{value.numerator}/{value.denominator}"


# "12 * 3 = 36", "(4 + 5) / 3 = 3", "1,200 - 200 = 1,000"; the left side is the longest
# run of arithmetic before the "=".
EQUATION = re.compile(
    r"(?P<lhs>(?:(?<![\w)])-)?[\d(][\d\s.+\-*/×÷x()]*?[\d)])\s*=\s*\$?(?P<rhs>-?\d+(?:\.\d+)?(?:/\d+)?)"
)
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def equations(text: str) -> list[tuple[str, str]]:
    """The `lhs = rhs` claims in a text whose left side is arithmetic with at least one
    operation. Of a run like "1. 12 - 5" the longest tail that parses is taken
    ("12 - 5"); a claim with no parseable left side is not a claim."""
    found = []
    for match in EQUATION.finditer(THOUSANDS.sub("", text)):
        lhs = _arithmetic_tail(match["lhs"].strip())
        if lhs is not None and re.search(r"\d\s*[+\-*/×÷x]\s*[\d(-]", lhs):
            found.append((lhs, match["rhs"]))
    return found


def _arithmetic_tail(text: str) -> str | None:
    for start, char in enumerate(text):
        if start and (text[start - 1].isdigit() or text[start - 1] == "."):
            continue  # not the start of a number
        if char.isdigit() or char in "(-":
            tail = text[start:].strip()
            try:
                evaluate(tail)
            except NotArithmetic as error:
                if "division by zero" in str(error):
                    return tail  # well-formed; the check will say what is wrong
                continue
            return tail
    return None
