"""The small extension fields GF4 = F2[α]/(α²+α+1) and F9 = F3[i]/(i²+1), built by galois.

A coefficient over these fields is an element index 0..q-1 in galois's integer representation
(the base-p digits of the polynomial in α or i): over F9 the index ``3b + a`` is a + b·i, so 3 is
i and 8 is 2 + 2i = -1 - i; over GF4 ``2b + a`` is a + b·α. The prime subfield is 0..p-1, so an
integer scheme maps to element indices by reducing mod p (``from_integers``).

``tables`` gives the addition and multiplication tables (and negation and inverse) as plain
int64 arrays: what the numba kernels of ``search/kernels/gfq.py`` take as arguments. ``product``
computes ``sum_r u_r ⊗ v_r ⊗ w_r`` exactly with those tables (integer indexing, no floats).
galois is imported on first use (it takes a second or two).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from .domain import EXTENSION_FIELDS

__all__ = ["field", "tables", "element_name", "from_integers", "product", "index_problem"]

_IRREDUCIBLE = {4: "x^2 + x + 1", 9: "x^2 + 1"}
_PRIMITIVE = {4: "x", 9: "x + 1"}  # i = x has order 4 in F9; 1 + i has order 8


def _order(q: int) -> int:
    if q not in EXTENSION_FIELDS:
        raise ValueError(f"no extension field of order {q} (known: {', '.join(map(str, EXTENSION_FIELDS))})")
    return q


def _fork_safe_threads() -> None:
    """galois compiles parallel numba ufuncs when it builds a field, which starts numba's threading
    layer; GNU OpenMP (the default) then kills every process forked afterwards ("fork() called
    from a process already using GNU OpenMP"), and the search workers are forked. flipforge has no
    parallel numba code of its own, so before the layer starts we pick the fork-safe workqueue."""
    import numba
    from numba.np.ufunc import parallel

    if not getattr(parallel, "_is_initialized", False) and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"


@cache
def field(q: int, jit: bool = False) -> Any:
    """The galois FieldArray class of GF(q) with flipforge's modulus (F9 = F3[i]: i² = -1).

    The modulus and a primitive element are given and not re-verified (tests check the field
    axioms). By default the class computes in pure Python: flipforge reads only small tables from
    it, and building it takes about a second instead of numba-compiling galois's ufuncs (15 s on a
    loaded 2-core machine). ``jit`` gives the compiled class, for linear algebra on large arrays.
    """
    _fork_safe_threads()
    import galois

    p = 2 if _order(q) == 4 else 3
    return galois.GF(
        p**2,
        irreducible_poly=_IRREDUCIBLE[q],
        primitive_element=_PRIMITIVE[q],
        verify=False,
        compile="auto" if jit else "python-calculate",
    )


@cache
def _tables(q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    gf = field(q)
    x = gf.elements
    add = np.asarray((x[:, None] + x[None, :]).view(np.ndarray), dtype=np.int64)
    mul = np.asarray((x[:, None] * x[None, :]).view(np.ndarray), dtype=np.int64)
    neg = np.asarray((-x).view(np.ndarray), dtype=np.int64)
    inv = np.zeros(q, dtype=np.int64)
    inv[1:] = np.asarray((gf(1) / x[1:]).view(np.ndarray), dtype=np.int64)
    for t in (add, mul, neg, inv):
        t.setflags(write=False)
    return add, mul, neg, inv


def tables(q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(add, mul, neg, inv) of GF(q) as read-only int64 arrays ((q, q), (q, q), (q,), (q,); inv[0] = 0)."""
    return _tables(_order(q))


def characteristic(q: int) -> int:
    return 2 if _order(q) == 4 else 3


def element_name(q: int, x: int) -> str:
    """``2+i`` (F9) or ``1+a`` (GF4, a = α) for the element index x: for messages."""
    p = characteristic(q)
    a, b = int(x) % p, int(x) // p
    gen = "i" if q == 9 else "a"
    if b == 0:
        return str(a)
    im = gen if b == 1 else f"{b}{gen}"
    return im if a == 0 else f"{a}+{im}"


def from_integers(arr: np.ndarray, q: int) -> np.ndarray:
    """Element indices of an integer array through Z -> F_p ⊂ GF(q) (each integer mod p)."""
    return np.mod(np.asarray(arr, dtype=np.int64), characteristic(q))


def index_problem(arr: np.ndarray, q: int) -> str | None:
    """Why ``arr`` is not an array of element indices 0..q-1 (None when it is)."""
    if arr.dtype == object:
        bad = next((x for x in arr.flat if type(x) is not int or not 0 <= x < q), None)
        return None if bad is None else f"coefficient {bad} is not an element index 0..{q - 1} of {EXTENSION_FIELDS[q]}"
    if arr.size and (arr.min() < 0 or arr.max() >= q):
        bad = arr.flat[np.flatnonzero((arr < 0) | (arr >= q))[0]]
        return f"coefficient {bad} is not an element index 0..{q - 1} of {EXTENSION_FIELDS[q]}"
    return None


def product(u: np.ndarray, v: np.ndarray, w: np.ndarray, q: int) -> np.ndarray:
    """``sum_r u_r ⊗ v_r ⊗ w_r`` over GF(q) as element indices (exact table lookups)."""
    add, mul, _, _ = tables(q)
    u, v, w = (np.asarray(a, dtype=np.int64) for a in (u, v, w))
    out = np.zeros((u.shape[1], v.shape[1], w.shape[1]), dtype=np.int64)
    for r in range(u.shape[0]):
        uv = mul[u[r][:, None], v[r][None, :]]
        out = add[out, mul[uv[:, :, None], w[r][None, None, :]]]
    return out
