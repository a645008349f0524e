"""The FMM catalogue's Maple ``tensor.mpl`` (TriadSet) format.

    Tensor:=TriadSet([Triad([Matrix(n, m, [[..]]), Matrix(m, p, [[..]]), Matrix(p, n, [[..]])]), ...]):

Term i is <T1, A>·<T2, B>·T3ᵀ: T1 (n x m) and T2 (m x p) are row-major coefficient matrices,
and the third matrix is p x n entering transposed, so its row-major flattening is exactly our
``w`` (index k*n+i). Entries may be unevaluated Maple arithmetic such as ``(0-1*1)`` or ``-1/8``;
they are evaluated exactly with a tiny arithmetic evaluator (numbers, + - * /, parentheses).
The catalogue's own check is an identity over Q, so a scheme claims no finite field: it is judged
in the ring of its coefficients (ZT, Z or Q).
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from pathlib import Path

from ..errors import FormatError
from ..scheme import Scheme
from ._io import build_scheme, read_text

__all__ = ["from_catalogue_text", "read_catalogue", "eval_arithmetic"]

_INT = re.compile(r"\s*-?\d+\s*")
_MATRIX = re.compile(r"Matrix\(\s*(\d+)\s*,\s*(\d+)\s*,\s*\[")


def eval_arithmetic(text: str) -> int | Fraction:
    """Exact value of an arithmetic expression of integers with + - * / and parentheses."""
    if _INT.fullmatch(text):
        return int(text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise FormatError(f"bad coefficient expression {text.strip()!r}") from None

    def ev(node: ast.AST) -> int | Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            val = ev(node.operand)
            return -val if isinstance(node.op, ast.USub) else val
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if b == 0:
                raise FormatError(f"division by zero in {text.strip()!r}")
            q = Fraction(a) / b
            return int(q) if q.denominator == 1 else q
        raise FormatError(f"unsupported coefficient expression {text.strip()!r}")

    return ev(tree)


def _matrix_at(text: str, start: int, where: str) -> tuple[int, int, list, int]:
    m = _MATRIX.match(text, start)
    if not m:
        raise FormatError(f"{where}: expected Matrix(rows, cols, [...]) at character {start}")
    rows, cols = int(m.group(1)), int(m.group(2))
    pos, depth = m.end(), 1
    while depth and pos < len(text):
        ch = text[pos]
        depth += 1 if ch == "[" else -1 if ch == "]" else 0
        pos += 1
    if depth:
        raise FormatError(f"{where}: unbalanced brackets in a Matrix")
    body = text[m.end() : pos - 1]
    row_texts = re.findall(r"\[([^\[\]]*)\]", body)
    values = [eval_arithmetic(x) for r in row_texts for x in r.split(",")]
    if len(row_texts) != rows or len(values) != rows * cols:
        raise FormatError(f"{where}: a Matrix({rows}, {cols}, ...) holds {len(values)} entries")
    return rows, cols, values, pos


def from_catalogue_text(text: str, path: Path) -> Scheme:
    where = str(path)
    start = text.find("TriadSet(")
    if start < 0:
        raise FormatError(f"{where}: no TriadSet(...) found")
    triads = []
    for t in re.finditer(r"Triad\(\s*\[", text[start:]):
        pos = start + t.end()
        mats = []
        for _ in range(3):
            pos = text.index("Matrix(", pos)
            rows, cols, vals, pos = _matrix_at(text, pos, where)
            mats.append((rows, cols, vals))
        triads.append(mats)
    if not triads:
        raise FormatError(f"{where}: the TriadSet has no Triad")
    (n, m, _), (_, p, _), _ = triads[0]
    for mats in triads:
        if [(r, c) for r, c, _ in mats] != [(n, m), (m, p), (p, n)]:
            raise FormatError(f"{where}: every Triad must hold matrices n x m, m x p, p x n of one format")
    u = [mats[0][2] for mats in triads]
    v = [mats[1][2] for mats in triads]
    w = [mats[2][2] for mats in triads]
    return build_scheme((n, m, p), u, v, w, path, "catalogue")


def read_catalogue(path: Path) -> list[Scheme]:
    return [from_catalogue_text(read_text(path), path)]
