"""Kauers/Moosbauer formats: ``.exp`` (one product of three linear forms per line) and Maple ``.m``.

``.exp``::

    (-2*a11+2*a12+a21-a22)*(b22+b23)*(c21+c22)
    a11*b13*(-c11+2*c12+c31+2*c32)/5

Variables ``aIJ``, ``bJK``, ``cKI`` are 1-based; the c variables are transposed (the trilinear
form is sum a_ij b_jk c_ki), so ``cKI`` is the term's coefficient in C[I][K] — exactly our ``w``
index ``(K-1)*n + (I-1)``. Lines may carry an overall sign or divisor, juxtaposition (``2b21``,
``(..)(..)c55``) and CRLF line ends. Moosbauer–Poole ``.txt`` files use the same syntax.

``.m`` (Maple)::  ``{{A_1, B_1, C_1}, ...}`` with A_r n x m, B_r m x p and C_r p x n (C_r[k][i]
is the coefficient in C[i][k]). Entries are integers or ``a/b``.
A file name with ``mod2`` claims F2 and ``mod0`` (also ``mod0a``) claims Z: the authors' convention for
schemes with integer coefficients that hold over every ring.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..coeffs import format_coeff
from ..errors import FlipforgeError, FormatError
from ..scheme import Scheme
from ..tensor import MAX_TENSOR_ENTRIES, parse_format
from ._io import build_scheme, claimed_domain, dense, read_text
from ._linear import parse_product

__all__ = ["from_exp_text", "to_exp_lines", "read_exp", "write_exp", "from_maple_text", "read_maple", "write_maple"]


def _pair(index: str, where: str) -> tuple[int, int]:
    if "_" in index:
        a, b = index.split("_", 1)
    elif len(index) == 2:
        a, b = index
    else:
        raise FormatError(f"{where}: variable index {index!r} is not two digits (use x1_12 for indices above 9)")
    return int(a) - 1, int(b) - 1


def from_exp_text(text: str, where: str) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray]:
    """Dimensions and dense U, V, W of an ``.exp`` text (dimensions from the largest indices)."""
    terms = []
    for lineno, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s or s.startswith(("#", "//")):
            continue
        s = s.rstrip(";,")
        try:
            forms = parse_product(s, "abc")
        except FormatError as exc:
            raise FormatError(f"{where}:{lineno}: {exc}") from None
        terms.append({g: [(_pair(k, f"{where}:{lineno}"), c) for k, c in forms[g].items()] for g in "abc"})
    if not terms:
        raise FormatError(f"{where}: no products found")
    n = m = p = 0
    for t in terms:
        for (i, j), _ in t["a"]:
            n, m = max(n, i + 1), max(m, j + 1)
        for (j, k), _ in t["b"]:
            m, p = max(m, j + 1), max(p, k + 1)
        for (k, i), _ in t["c"]:
            p, n = max(p, k + 1), max(n, i + 1)
    if min(n, m, p) < 1 or any(min(i, j) < 0 for t in terms for g in "abc" for (i, j), _ in t[g]):
        raise FormatError(f"{where}: variable indices must start at 1")
    try:
        parse_format((n, m, p))
    except FlipforgeError as exc:
        raise FormatError(f"{where}: {exc}") from None
    if (n * m) * (m * p) * (p * n) > MAX_TENSOR_ENTRIES:  # checked before the dense factors are allocated
        raise FormatError(f"{where}: format {n}x{m}x{p} (from the largest indices) is too large")
    r = len(terms)
    u, v, w = dense(r, n * m), dense(r, m * p), dense(r, p * n)
    for row, t in enumerate(terms):
        for (i, j), c in t["a"]:
            u[row, i * m + j] = c
        for (j, k), c in t["b"]:
            v[row, j * p + k] = c
        for (k, i), c in t["c"]:
            w[row, k * n + i] = c
    return (n, m, p), u, v, w


def read_exp(path: Path) -> list[Scheme]:
    fmt, u, v, w = from_exp_text(read_text(path), str(path))
    return [build_scheme(fmt, u, v, w, path, "exp", domain=claimed_domain(path.name))]


def _linear_text(row: np.ndarray, names: list[str]) -> str:
    parts = []
    for idx in np.flatnonzero(row != 0):
        c = format_coeff(row[idx])
        if c == 1:
            parts.append(f"+{names[idx]}")
        elif c == -1:
            parts.append(f"-{names[idx]}")
        else:
            cs = str(c)
            parts.append(f"{'' if cs.startswith('-') else '+'}{cs}*{names[idx]}")
    text = "".join(parts).lstrip("+")
    return text or "0"


def to_exp_lines(scheme: Scheme):
    """Yield the ``.exp`` lines of a matmul scheme (formats with all dimensions below 10)."""
    if scheme.fmt is None:
        raise FormatError(".exp holds matrix multiplication schemes only")
    a, b, c = scheme.tensor.entry_names()
    for t in range(scheme.rank):
        yield f"({_linear_text(scheme.u[t], a)})*({_linear_text(scheme.v[t], b)})*({_linear_text(scheme.w[t], c)})"


def write_exp(schemes: list[Scheme], path: Path) -> None:
    path.write_text("\n".join(to_exp_lines(schemes[0])) + "\n")


_FRACTION = re.compile(r"(-?\d+)\s*/\s*(\d+)")


def from_maple_text(text: str, where: str) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray]:
    """Dimensions and dense U, V, W of a Maple ``.m`` nested list."""
    body = text.strip().rstrip(";:").strip()
    body = _FRACTION.sub(r'"\1/\2"', body).replace("{", "[").replace("}", "]")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{where}: not a Maple nested list ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, list) or not data:
        raise FormatError(f"{where}: expected a non-empty list of {{A, B, C}} triples")
    try:
        first = data[0]
        n, m, p = len(first[0]), len(first[0][0]), len(first[1][0])
        u = [[x for row in t[0] for x in row] for t in data]
        v = [[x for row in t[1] for x in row] for t in data]
        w = [[x for row in t[2] for x in row] for t in data]
        ok = all(len(t) == 3 and len(t[0]) == n and len(t[1]) == m and len(t[2]) == p for t in data)
    except (TypeError, IndexError):
        ok = False
    if not ok or any(len(x) != n * m for x in u) or any(len(x) != m * p for x in v) or any(len(x) != p * n for x in w):
        raise FormatError(f"{where}: every term must be {{A (n x m), B (m x p), C (p x n)}} of one format")
    return (n, m, p), u, v, w  # type: ignore[return-value]


def read_maple(path: Path) -> list[Scheme]:
    fmt, u, v, w = from_maple_text(read_text(path), str(path))
    return [build_scheme(fmt, u, v, w, path, "maple", domain=claimed_domain(path.name))]


def write_maple(schemes: list[Scheme], path: Path) -> None:
    s = schemes[0]
    if s.fmt is None:
        raise FormatError(".m holds matrix multiplication schemes only")
    n, m, p = s.fmt

    def mat(row: np.ndarray, rows: int, cols: int) -> str:
        vals = [str(format_coeff(x)) for x in row]
        return "{" + ", ".join("{" + ", ".join(vals[i * cols : (i + 1) * cols]) + "}" for i in range(rows)) + "}"

    terms = [f"{{{mat(s.u[t], n, m)}, {mat(s.v[t], m, p)}, {mat(s.w[t], p, n)}}}" for t in range(s.rank)]
    path.write_text("{" + ",\n ".join(terms) + "}\n")
