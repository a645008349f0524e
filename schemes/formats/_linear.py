"""A small exact parser for products of linear forms, as in ``(-2*a11+a12)*(b22+b23)*c21/5``.

Values are (scalar, {group: {index: coefficient}}): a product of at most one linear form per
variable group (a, b, c, m, ...). A term's scalars are multiplied together and put into one
factor at the end, so only the rank-one term itself, not its split into factors, is fixed.
Addition is allowed only between forms of the same single group, multiplication only between
different groups, division only by numbers. Juxtaposition is multiplication, as in
``(a56-a66)(b65+b66)c55`` and ``2b21``. Coefficients stay exact.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..errors import FormatError

__all__ = ["parse_product", "Form"]

Form = dict[str, dict[str, object]]
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z])(\d+(?:_\d+)*)|([-+*/()]))")


def _tokenize(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    pos = 0
    end = len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if not m:
            raise FormatError(f"unexpected character {text[pos:].strip()[:1]!r} in {text.strip()!r}")
        pos = m.end()
        if m.group(1) is not None:
            out.append(("num", int(m.group(1))))
        elif m.group(2) is not None:
            out.append(("var", (m.group(2).lower(), m.group(3))))
        else:
            out.append((m.group(4), None))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.pos = 0

    def fail(self, why: str) -> FormatError:
        return FormatError(f"{why} in {self.text.strip()!r}")

    def peek(self) -> str | None:
        return self.toks[self.pos][0] if self.pos < len(self.toks) else None

    def expr(self):
        val = self.term()
        while self.peek() in ("+", "-"):
            op = self.toks[self.pos][0]
            self.pos += 1
            rhs = self.term()
            val = self.add(val, rhs, -1 if op == "-" else 1)
        return val

    def term(self):
        val = self.unary()
        while True:
            t = self.peek()
            if t in ("*", "/"):
                self.pos += 1
                rhs = self.unary()
                val = self.mul(val, rhs) if t == "*" else self.div(val, rhs)
            elif t in ("num", "var", "("):
                val = self.mul(val, self.unary())
            else:
                return val

    def unary(self):
        t = self.peek()
        if t == "-":
            self.pos += 1
            s, f = self.unary()
            return (-s, f)
        if t == "+":
            self.pos += 1
            return self.unary()
        return self.primary()

    def primary(self):
        if self.pos >= len(self.toks):
            raise self.fail("unexpected end of expression")
        kind, val = self.toks[self.pos]
        self.pos += 1
        if kind == "num":
            return (val, {})
        if kind == "var":
            group, index = val  # type: ignore[misc]
            return (1, {group: {index: 1}})
        if kind == "(":
            inner = self.expr()
            if self.peek() != ")":
                raise self.fail("missing ')'")
            self.pos += 1
            return inner
        raise self.fail(f"unexpected {kind!r}")

    def add(self, x, y, sign: int):
        (sx, fx), (sy, fy) = x, y
        if not fx and not fy:
            return (sx + sign * sy, {})
        if len(fx) != 1 or len(fy) != 1 or fx.keys() != fy.keys():
            raise self.fail("a sum mixes variable groups or constants (not a product of linear forms)")
        (g, ax), (_, ay) = next(iter(fx.items())), next(iter(fy.items()))
        out = {k: sx * c for k, c in ax.items()}
        for k, c in ay.items():
            out[k] = out.get(k, 0) + sign * sy * c
        return (1, {g: out})

    def mul(self, x, y):
        (sx, fx), (sy, fy) = x, y
        if fx.keys() & fy.keys():
            raise self.fail("a variable group appears in two factors of one product")
        return (sx * sy, {**fx, **fy})

    def div(self, x, y):
        (sx, fx), (sy, fy) = x, y
        if fy:
            raise self.fail("division by a variable")
        if sy == 0:
            raise self.fail("division by zero")
        return (Fraction(sx) / sy, fx)


_FACTOR = r"\s*(?:\(([^()]*)\)|([a-z]\d+))\s*"
_SIMPLE3 = re.compile(_FACTOR + r"\*?" + _FACTOR + r"\*?" + _FACTOR + r"(?:/\s*(\d+)\s*)?")
_LIN_TERM = re.compile(r"\s*([+-]?)\s*(?:(\d+)\s*\*?\s*)?([a-z])(\d+)\s*")


def _simple_form(text: str) -> tuple[str, dict[str, object]] | None:
    """A flat linear form like ``-2*a11 + a12`` in one variable group, or None if not that simple."""
    out: dict[str, object] = {}
    group = None
    pos = 0
    for m in _LIN_TERM.finditer(text):
        if m.start() != pos or (pos > 0 and not m.group(1)):
            return None
        pos = m.end()
        if group is None:
            group = m.group(3)
        elif m.group(3) != group:
            return None
        c = int(m.group(2)) if m.group(2) else 1
        key = m.group(4)
        out[key] = out.get(key, 0) + (-c if m.group(1) == "-" else c)
    if group is None or pos != len(text):
        return None
    return group, out


def _simple_product(text: str, groups: str) -> Form | None:
    """Fast path for ``(lin)*(lin)*(lin)`` with an optional ``/d``; None sends the line to the full parser."""
    if len(groups) != 3:
        return None
    m = _SIMPLE3.fullmatch(text)
    if not m:
        return None
    forms: Form = {}
    for inner, bare in ((m.group(1), m.group(2)), (m.group(3), m.group(4)), (m.group(5), m.group(6))):
        parsed = _simple_form(inner) if inner is not None else _simple_form(bare)
        if parsed is None or parsed[0] in forms:
            return None
        forms[parsed[0]] = parsed[1]
    if set(forms) != set(groups):
        return None
    if m.group(7):
        d = int(m.group(7))
        if d == 0:
            return None
        return _finish(forms, Fraction(1, d), groups)
    return forms


def parse_product(text: str, groups: str) -> Form:
    """Parse one product of linear forms, one per letter of ``groups``; the scalar goes into the last."""
    fast = _simple_product(text, groups)
    if fast is not None:
        return _finish(fast, 1, groups)
    p = _Parser(text)
    scalar, forms = p.expr()
    if p.pos != len(p.toks):
        raise p.fail("unexpected trailing text")
    if set(forms) != set(groups):
        have = "".join(sorted(forms)) or "none"
        raise p.fail(f"expected one factor in each of the variables {', '.join(groups)}, found {have}")
    return _finish(forms, scalar, groups)


def _finish(forms: Form, scalar: object, groups: str) -> Form:
    """Put the term's overall scalar into one factor: the last one, unless another factor keeps
    integer coefficients where the last would not (``(-3*(..))*(..)*(..)/3`` stays integral)."""
    if scalar != 1:
        order = [groups[-1], *groups[:-1]]
        target = next(
            (g for g in order if all(Fraction(c * scalar).denominator == 1 for c in forms[g].values())), groups[-1]
        )
        forms[target] = {k: c * scalar for k, c in forms[target].items()}  # type: ignore[operator]
    for g in groups:
        forms[g] = {
            k: (int(c) if isinstance(c, Fraction) and c.denominator == 1 else c) for k, c in forms[g].items() if c != 0
        }
    return forms
