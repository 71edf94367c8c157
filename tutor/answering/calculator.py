"""A safe arithmetic evaluator: parses with `ast` and walks a whitelist. Never `eval`/`exec`.

Limits keep every expression cheap: its length, the depth of nesting, the size of integers (in bits),
exponents and factorials. Anything else (names, attributes, calls other than the listed functions,
strings, comprehensions, lambdas) is rejected with a message that says what is allowed.
"""

from __future__ import annotations

import ast
import math
import operator
import re

MAX_CHARS = 300
MAX_DEPTH = 40
MAX_INT_BITS = 4096  # ~1233 decimal digits
MAX_FACTORIAL = 170  # the largest n whose factorial fits in a float

ALLOWED = "numbers, + - * / // % ** ( ), and sqrt, log, log10, log2, exp, abs, round, min, max, floor, ceil, factorial, pi, e"


class CalculatorError(ValueError):
    """The expression cannot be computed; the message says why and what is allowed."""


_BIN = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _factorial(n):
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, int) or n < 0:
        raise CalculatorError("factorial needs a whole number ≥ 0")
    if n > MAX_FACTORIAL:
        raise CalculatorError(f"factorial({n}) is too large (limit {MAX_FACTORIAL})")
    return math.factorial(n)


def _round(x, ndigits=0):
    if not isinstance(ndigits, int) or not -20 <= ndigits <= 20:
        raise CalculatorError("round's second argument must be a whole number from -20 to 20")
    return round(x, ndigits)


_FUNCS = {
    "sqrt": (math.sqrt, 1, 1), "log": (math.log, 1, 2), "log10": (math.log10, 1, 1), "log2": (math.log2, 1, 1),
    "exp": (math.exp, 1, 1), "abs": (abs, 1, 1), "round": (_round, 1, 2), "min": (min, 1, 20), "max": (max, 1, 20),
    "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1), "factorial": (_factorial, 1, 1),
}

# What people and models type that Python's grammar does not: ×, ÷, −, ^ for power, thousands separators.
_REPLACEMENTS = {"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "^": "**"}
_THOUSANDS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d.]|,\d)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%(?!\s*[\d(])")


def normalize(expression: str) -> str:
    text = expression.strip()
    for a, b in _REPLACEMENTS.items():
        text = text.replace(a, b)
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _PERCENT.sub(r"(\1/100)", text)  # "15%" is 0.15; "10 % 3" stays modulo
    return text


def evaluate(expression: object) -> int | float:
    """The value of an arithmetic expression, or CalculatorError."""
    if not isinstance(expression, str):
        raise CalculatorError(f"the expression must be text, not {type(expression).__name__}")
    if not expression.strip():
        raise CalculatorError(f"the expression is empty; write arithmetic such as 72 * 8 (allowed: {ALLOWED})")
    if len(expression) > MAX_CHARS:
        raise CalculatorError(f"the expression is {len(expression)} characters long; the limit is {MAX_CHARS}")
    text = normalize(expression)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculatorError(f"cannot parse {expression!r}; write plain arithmetic (allowed: {ALLOWED})") from None
    except (ValueError, MemoryError, RecursionError):
        raise CalculatorError("the expression is malformed or too deeply nested") from None
    try:
        value = _eval(tree.body, 0)
    except CalculatorError:
        raise
    except ZeroDivisionError:
        raise CalculatorError("division by zero") from None
    except OverflowError:
        raise CalculatorError("the result is too large to represent") from None
    except (ValueError, TypeError) as e:
        raise CalculatorError(f"math error: {e}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError("the result is not a finite number")
    return value


def _eval(node: ast.AST, depth: int):
    if depth > MAX_DEPTH:
        raise CalculatorError("the expression is nested too deeply")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise CalculatorError(f"only numbers are allowed, not {node.value!r}")
        return _check_int(node.value)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        op = _BIN.get(type(node.op))
        if op is None:
            raise CalculatorError(f"the operator {type(node.op).__name__} is not allowed (allowed: {ALLOWED})")
        return _check_int(op(left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, depth + 1))
    if isinstance(node, ast.Name):
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        raise CalculatorError(f"unknown name {node.id!r}; the calculator only does arithmetic (allowed: {ALLOWED})")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
            raise CalculatorError(f"only these functions are allowed: {', '.join(_FUNCS)}")
        fn, lo, hi = _FUNCS[node.func.id]
        if not lo <= len(node.args) <= hi:
            raise CalculatorError(f"{node.func.id} takes {lo}" + (f" to {hi}" if hi != lo else "") + " argument(s)")
        return _check_int(fn(*(_eval(a, depth + 1) for a in node.args)))
    raise CalculatorError(f"{type(node).__name__} is not allowed; write plain arithmetic (allowed: {ALLOWED})")


def _power(base, exp):
    if isinstance(exp, float) and exp.is_integer() and abs(exp) < 1e6:
        exp = int(exp)
    if isinstance(base, int) and isinstance(exp, int) and exp >= 0:
        bits = max(abs(base).bit_length(), 1)
        if abs(base) > 1 and bits * exp > MAX_INT_BITS:
            raise CalculatorError(f"{base}**{exp} is too large (results are limited to about {MAX_INT_BITS * 3 // 10} digits)")
        return base**exp
    if abs(exp) > 10_000:
        raise CalculatorError("the exponent is too large")
    result = math.pow(base, exp)  # floats: raises OverflowError instead of hanging
    return result


def _check_int(v):
    if isinstance(v, int) and v.bit_length() > MAX_INT_BITS:
        raise CalculatorError(f"the result is too large (limited to about {MAX_INT_BITS * 3 // 10} digits)")
    return v


def format_number(v: int | float) -> str:
    if isinstance(v, int):
        return str(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.10g}"
