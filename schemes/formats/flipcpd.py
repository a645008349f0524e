"""Khoruzhii–Gelß–Pokutta ``flip-cpd`` files (``.npy`` and ``.txt``).

``.npy``: shape (1, 2·r·(n·m + m·p + n·p)) int64 of alternating numerator, denominator; the
fractions are factor-major ``[U_1 .. U_r | V_1 .. V_r | W_1 .. W_r]``, each row-major, with
**W_t[i*p+k] the coefficient in C[i][k] (not transposed)**. The format comes from the file name
(``gg-333-rank23-...``), the rank from the length.

``.txt``::

    m1  = (a5 - a8 + a9)(b5 - b6 - b9)
    c1 = m7 + m9 - m18

``a``, ``b``, ``c`` carry 1-based flat row-major indices; ``c`` is C (not transposed).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..scheme import Scheme
from ..tensor import parse_format
from ._io import build_scheme, dense, dims_from_sizes, read_text
from ._linear import parse_product
from ._safe import check_dense_size, load_npy

__all__ = ["read_flipcpd_npy", "read_flipcpd_txt", "looks_like_flipcpd_txt"]

_NAME_FMT = re.compile(r"(?:^|[-_])(\d)(\d)(\d)(?:[-_]|$)")


_STRUCTURED = re.compile(r"([gulskw][gulskwt])-\d{3}[abc]?(?:[-_.]|$)")
_LETTERS = {"g": "general", "u": "upper triangular", "l": "lower triangular", "s": "symmetric"}
_LETTERS |= {"k": "skew-symmetric", "w": "skew plus diagonal"}


def _refuse_structured(path: Path) -> None:
    """flip-cpd names structured products by operation (``ug-444-...``); reading one of them as
    matrix multiplication would give a wrong verdict, so only ``gg`` (general x general) is read."""
    m = _STRUCTURED.match(path.name)
    if m and m.group(1) != "gg":
        op = m.group(1)
        right = "its transpose" if op[1] == "t" else _LETTERS[op[1]]
        raise FormatError(
            f"{path}: a structured product ({_LETTERS[op[0]]} x {right}, '{op}'), not matrix "
            "multiplication; flipforge reads only general products (gg-...) from flip-cpd files so far"
        )


def looks_like_flipcpd_txt(head: str) -> bool:
    return re.match(r"\s*m\d+\s*=", head) is not None


def read_flipcpd_npy(path: Path) -> list[Scheme]:
    """The one scheme in a flip-cpd ``.npy`` (header checked before the data is read)."""
    _refuse_structured(path)
    arr = load_npy(path)
    m = _NAME_FMT.search(path.stem)
    if not m:
        raise FormatError(f"{path}: the file name must name the format, as in gg-333-rank23.npy")
    n, mm, p = (int(x) for x in m.groups())
    flat = arr.reshape(-1)
    if flat.dtype.kind not in "iu" or flat.size % 2:
        raise FormatError(f"{path}: expected integer numerator/denominator pairs")
    per_term = n * mm + mm * p + n * p
    if (flat.size // 2) % per_term:
        raise FormatError(f"{path}: length {flat.size // 2} is not a multiple of {per_term} for {n}x{mm}x{p}")
    nums, dens = flat[0::2], flat[1::2]
    if np.any(dens == 0):
        raise FormatError(f"{path}: a zero denominator")
    r = (flat.size // 2) // per_term
    if np.all(dens == 1):
        vals: np.ndarray = nums.astype(np.int64)
    else:
        from fractions import Fraction

        vals = np.array([Fraction(int(a), int(b)) for a, b in zip(nums, dens, strict=True)], dtype=object)
    u = vals[: r * n * mm].reshape(r, n * mm)
    v = vals[r * n * mm : r * (n * mm + mm * p)].reshape(r, mm * p)
    w_c = vals[r * (n * mm + mm * p) :].reshape(r, n, p)
    w = w_c.transpose(0, 2, 1).reshape(r, p * n)
    return [build_scheme((n, mm, p), u, v, w, path, "flipcpd-npy")]


def read_flipcpd_txt(path: Path) -> list[Scheme]:
    """The one scheme of a flip-cpd text file (sizes checked before the matrices are allocated)."""
    _refuse_structured(path)
    where = str(path)
    products: dict[int, dict] = {}
    outputs: dict[int, dict] = {}
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.fullmatch(r"([mc])(\d+)\s*=\s*(.+)", s)
        if not m:
            raise FormatError(f"{where}:{lineno}: expected 'mN = (..)(..)' or 'cN = ...'")
        try:
            if m.group(1) == "m":
                products[int(m.group(2))] = parse_product(m.group(3), "ab")
            else:
                outputs[int(m.group(2))] = parse_product(m.group(3), "m")["m"]
        except FormatError as exc:
            raise FormatError(f"{where}:{lineno}: {exc}") from None
    if not products or not outputs:
        raise FormatError(f"{where}: needs product lines 'mN = ...' and output lines 'cN = ...'")
    order = sorted(products)
    if order != list(range(1, len(order) + 1)):
        raise FormatError(f"{where}: products must be numbered m1..m{len(order)}")
    nm = max(int(k) for f in products.values() for k in f["a"])
    mp = max(int(k) for f in products.values() for k in f["b"])
    np_ = max(outputs)
    n, m_, p = dims_from_sizes(nm, mp, np_, where)
    parse_format((n, m_, p))  # sides above MAX_DIM are refused before anything is allocated
    r = len(order)
    for cols in (nm, mp, np_):
        check_dense_size(r, cols, where)
    u, v, w = dense(r, nm), dense(r, mp), dense(r, np_)
    for t in order:
        for k, c in products[t]["a"].items():
            u[t - 1, int(k) - 1] = c
        for k, c in products[t]["b"].items():
            v[t - 1, int(k) - 1] = c
    for out, form in outputs.items():
        i, k = divmod(out - 1, p)
        for prod, c in form.items():
            if not 1 <= int(prod) <= r:
                raise FormatError(f"{where}: c{out} uses undefined product m{prod}")
            w[int(prod) - 1, k * n + i] = c
    return [build_scheme((n, m_, p), u, v, w, path, "flipcpd-txt")]
