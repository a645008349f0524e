"""Products of structured matrices, named as in the flip-cpd paper (Khoruzhii, Gelß, Pokutta).

Structure letters of an n x n matrix: ``g`` general, ``u`` upper and ``l`` lower triangular, ``s``
symmetric, ``k`` skew-symmetric, ``w`` skew part plus an independent diagonal. ``ug-444`` is
A·B with A upper triangular and B general, ``gt-444`` is X·Xᵀ; a suffix ``a``/``b``/``c`` leaves
out C[0][0], C[n-1][n-1] or both. Parameters are packed as in the paper (``sym_pack``,
``skew_pack``); general outputs use flipforge's cyclic convention (output ``k*n1 + i`` is
C[i][k]), so ``gg-nmp`` is exactly the matmul tensor <n,m,p>.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SchemeError, TensorError
from ..tensor import MAX_DIM, MAX_TENSOR_ENTRIES
from .layout import Layout, Operand, general_cells

__all__ = [
    "OPS",
    "PACKED_OPS",
    "StructuredSpec",
    "parse_structured",
    "structured_layout",
    "structured_array",
    "diagonal_params",
    "recursion_counts",
    "gamma_factor",
    "sym_pack",
    "skew_pack",
]

PRODUCT_OPS = ("gg", "ug", "sg", "kg", "wg", "uu", "us", "uk", "uw", "ul", "ss", "sk", "sw", "kk", "ww")
GRAM_OPS = ("gt", "ut", "st", "kt", "wt")
OPS: tuple[str, ...] = PRODUCT_OPS + GRAM_OPS
PACKED_OPS: frozenset[str] = frozenset({"uu", *GRAM_OPS})
SYMMETRIC_OPS: frozenset[str] = frozenset({"uu", "ss", "kk", "ww"})
"""A·B ops whose two operands have the same structure: the paper's recursion analysis merges
their ag and bg counts (checked against the file names of the paper's schemes, uu included)."""
SUFFIXES = ("", "a", "b", "c")

_LOOKS_LIKE = re.compile(r"([a-z]{2})-([0-9x]+)([a-z]*)")


def sym_pack(i: int, j: int, n: int) -> int:
    """Index of entry (i, j) of a packed upper triangle (diagonal included) of an n x n matrix."""
    a, b = min(i, j), max(i, j)
    return a * (2 * n - a - 1) // 2 + b


def skew_pack(i: int, j: int, n: int) -> int:
    """Index of entry (i, j), i != j, of a packed strict upper triangle of an n x n matrix."""
    a, b = min(i, j), max(i, j)
    return a * (2 * n - a - 1) // 2 + (b - a - 1)


def _param_count(letter: str, rows: int, cols: int) -> int:
    if letter == "g":
        return rows * cols
    if letter == "k":
        return rows * (rows - 1) // 2
    return rows * (rows + 1) // 2


def _output_count(op: str, n1: int, n3: int) -> int:
    return n1 * (n1 + 1) // 2 if op in PACKED_OPS else n1 * n3


@dataclass(frozen=True)
class StructuredSpec:
    """One structured product: ``op`` (see OPS), ``dims`` (n1, n2, n3) and ``suffix`` ("" or a/b/c).

    A is n1 x n2, B is n2 x n3 and C is n1 x n3; for X·Xᵀ, X is n1 x n2 and n3 == n1. Building a
    spec checks it, so every spec names a tensor that can be built.
    """

    op: str
    dims: tuple[int, int, int]
    suffix: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        _check(self)

    @property
    def is_gram(self) -> bool:
        """True for X·Xᵀ ops (``gt``, ``ut``, ...), whose two input factors index the same X."""
        return self.op[1] == "t"

    @property
    def name(self) -> str:
        """The canonical name: ``ug-444``, ``gt-444c``, or ``ug-10x10x10`` when a size is >= 10."""
        return _name(self.op, self.dims, self.suffix)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The tensor's shape: parameters of A (or X), of B (or X), and outputs."""
        n1, n2, n3 = self.dims
        left = _param_count(self.op[0], n1, n2)
        right = left if self.is_gram else _param_count(self.op[1], n2, n3)
        return left, right, _output_count(self.op, n1, n3)


def _name(op: str, dims: tuple[int, ...], suffix: str) -> str:
    sizes = "x".join(map(str, dims)) if max(dims, default=0) >= 10 else "".join(map(str, dims))
    return f"{op}-{sizes}{suffix}"


def _check(spec: StructuredSpec) -> None:
    label = _name(spec.op, spec.dims, spec.suffix)
    if spec.op not in OPS:
        raise TensorError(f"unknown structured product {spec.op!r} in {label!r}: expected one of {', '.join(OPS)}")
    if len(spec.dims) != 3 or any(d < 1 or d > MAX_DIM for d in spec.dims):
        raise TensorError(f"bad structured product {label!r}: three sizes from 1 to {MAX_DIM} are needed")
    if spec.suffix not in SUFFIXES:
        raise TensorError(f"bad structured product {label!r}: the suffix must be a, b or c, not {spec.suffix!r}")
    n1, n2, n3 = spec.dims
    left, right = spec.op
    if spec.is_gram:
        if n3 != n1:
            raise TensorError(f"bad structured product {label!r}: X·Xᵀ is n1 x n1, so n3 must equal n1")
        if left != "g" and n1 != n2:
            raise TensorError(f"bad structured product {label!r}: a {left!r} matrix X must be square (n1 == n2)")
    else:
        if left != "g" and n1 != n2:
            raise TensorError(f"bad structured product {label!r}: a {left!r} matrix A must be square (n1 == n2)")
        if right != "g" and n2 != n3:
            raise TensorError(f"bad structured product {label!r}: a {right!r} matrix B must be square (n2 == n3)")
    if spec.suffix and not (n1 == n2 == n3 and n1 >= 2):
        raise TensorError(f"bad structured product {label!r}: suffixes need equal sizes of at least 2")
    shape = spec.shape
    if 0 in shape:
        raise TensorError(f"bad structured product {label!r}: a skew-symmetric matrix needs a size of at least 2")
    entries = shape[0] * shape[1] * shape[2]
    if entries > MAX_TENSOR_ENTRIES:
        raise TensorError(
            f"structured product {label!r}: a tensor of {entries} entries is too large (at most {MAX_TENSOR_ENTRIES})"
        )


def parse_structured(text: str) -> StructuredSpec | None:
    """Read ``ug-444``, ``gt-444c`` or ``ug-10x10x10``; None when the text is not of the form
    ``<two letters>-<sizes>[suffix]`` (or is a polynomial product ``pm-...``), TensorError when it
    is but names no valid product."""
    s = str(text).strip().lower()
    match = _LOOKS_LIKE.fullmatch(s)
    if match is None or match.group(1) == "pm":
        return None
    op, sizes, suffix = match.groups()
    if op not in OPS:
        raise TensorError(f"unknown structured product {op!r} in {text!r}: expected one of {', '.join(OPS)}")
    if re.fullmatch(r"\d{3}", sizes):
        dims = tuple(int(c) for c in sizes)
    elif re.fullmatch(r"\d+x\d+x\d+", sizes):
        dims = tuple(int(c) for c in sizes.split("x"))
    else:
        raise TensorError(f"bad structured product {text!r}: sizes are three digits like 444, or like 10x10x10")
    if suffix not in SUFFIXES:
        raise TensorError(f"bad structured product {text!r}: the suffix must be a, b or c, not {suffix!r}")
    return StructuredSpec(op, dims, suffix)  # type: ignore[arg-type]


def _input_operand(name: str, letter: str, n_rows: int, n_cols: int) -> Operand:
    """The parameters of one structured input, each with every entry it fills and its sign."""
    if letter == "g":
        return Operand(name, n_rows, n_cols, "g", general_cells(n_rows, n_cols))
    n = n_rows
    cells: dict[int, list[tuple[int, int, int]]] = {}
    for i in range(n):
        for j in range(n):
            if letter == "u" and j >= i or letter == "l" and j <= i or letter == "s":
                cells.setdefault(sym_pack(i, j, n), []).append((i, j, 1))
            elif letter == "w":
                cells.setdefault(sym_pack(i, j, n), []).append((i, j, 1 if i <= j else -1))
            elif letter == "k" and i != j:
                cells.setdefault(skew_pack(i, j, n), []).append((i, j, 1 if i < j else -1))
    ordered = tuple(tuple(sorted(cells[idx], key=lambda c: -c[2])) for idx in range(len(cells)))
    return Operand(name, n, n, letter, ordered)


def _output_operand(spec: StructuredSpec) -> Operand:
    n1, _, n3 = spec.dims
    if spec.op in PACKED_OPS:
        sym = spec.is_gram
        cells = tuple(
            ((i, k, 1), (k, i, 1)) if sym and i < k else ((i, k, 1),) for i in range(n1) for k in range(i, n1)
        )
        structure = "packed-sym" if sym else "packed-upper"
        index = {(i, k): sym_pack(i, k, n1) for i in range(n1) for k in range(i, n1)}
    else:
        cells = tuple(((i, k, 1),) for k in range(n3) for i in range(n1))
        structure = "g"
        index = {(i, k): k * n1 + i for i in range(n1) for k in range(n3)}
    dropped = set()
    if spec.suffix in ("a", "c"):
        dropped.add(index[0, 0])
    if spec.suffix in ("b", "c"):
        dropped.add(index[n1 - 1, n1 - 1])
    return Operand("C", n1, n3, structure, cells, frozenset(dropped))


@lru_cache(maxsize=256)
def structured_layout(spec: StructuredSpec) -> Layout:
    """Which matrix entries each parameter and output index of ``spec`` stands for."""
    n1, n2, n3 = spec.dims
    out = _output_operand(spec)
    if spec.is_gram:
        x = _input_operand("X", spec.op[0], n1, n2)
        return Layout(x, x, out, same_operand=True)
    return Layout(_input_operand("A", spec.op[0], n1, n2), _input_operand("B", spec.op[1], n2, n3), out)


def _entry_map(operand: Operand) -> dict[tuple[int, int], tuple[int, int]]:
    return {(i, j): (idx, sign) for idx, cells in enumerate(operand.cells) for i, j, sign in cells}


@lru_cache(maxsize=256)
def structured_array(spec: StructuredSpec) -> np.ndarray:
    """The exact tensor of ``spec`` (int64, read-only), built from its layout: T[alpha, beta, gamma]
    sums sign_A·sign_B over the products A[i][j]·B[j][k] that make up output gamma = C[i][k]."""
    layout = structured_layout(spec)
    left, right = _entry_map(layout.left), _entry_map(layout.right)
    inner = spec.dims[1]
    t = np.zeros(spec.shape, dtype=np.int64)
    for gamma in range(layout.out.size()):
        if gamma in layout.out.dropped:
            continue
        i, k = layout.out.read_index(gamma)
        for j in range(inner):
            a = left.get((i, j))
            b = right.get((k, j) if layout.same_operand else (j, k))
            if a is not None and b is not None:
                t[a[0], b[0], gamma] += a[1] * b[1]
    t.setflags(write=False)
    return t


def diagonal_params(operand: Operand) -> frozenset[int]:
    """Parameters of a u/l/s/w matrix whose canonical cell is on the diagonal (none for g and k):
    a term using only these multiplies by a diagonal matrix, which recursion handles cheaply."""
    if operand.structure not in ("u", "l", "s", "w"):
        return frozenset()
    return frozenset(idx for idx in range(operand.size()) if operand.read_index(idx)[0] == operand.read_index(idx)[1])


def _rows(factor, r: int, size: int, label: str) -> list[list]:
    rows = [list(row) for row in factor]
    if len(rows) != r or any(len(row) != size for row in rows):
        raise SchemeError(f"recursion counts: {label} must be {r} x {size}")
    return rows


def recursion_counts(spec: StructuredSpec, u, v) -> tuple[int, int, int]:
    """The paper's recursive-call counts (the ``rec-a-b-c`` of its file names) of a scheme with
    left factor ``u`` (r x nU) and right factor ``v`` (r x nV), exact entries (ints or Fractions).

    A·B ops count terms whose left and/or right factor uses only diagonal parameters; X·Xᵀ ops
    count terms with u == v (a smaller X·Xᵀ) and terms with a diagonal-only factor.
    """
    n_left, n_right, _ = spec.shape
    r = len(u)
    u_rows, v_rows = _rows(u, r, n_left, "u"), _rows(v, r, n_right, "v")
    layout = structured_layout(spec)
    diag_left, diag_right = diagonal_params(layout.left), diagonal_params(layout.right)

    def support(row: list) -> set[int]:
        return {idx for idx, x in enumerate(row) if x != 0}

    a, b = spec.op
    if spec.is_gram:
        if a == "k":
            return 0, 0, 0
        at = ag = gt = 0
        for urow, vrow in zip(u_rows, v_rows, strict=True):
            su, sv = support(urow), support(vrow)
            diag = (bool(su) and su <= diag_left) or (bool(sv) and sv <= diag_right)
            if all(x == y for x, y in zip(urow, vrow, strict=True)):
                if diag:
                    at += 1
                else:
                    gt += 1
            elif diag:
                ag += 1
        return (at + gt, 0, 0) if a == "g" else (at, ag, gt)

    both = left_only = right_only = 0
    for urow, vrow in zip(u_rows, v_rows, strict=True):
        left_diag, right_diag = support(urow) <= diag_left, support(vrow) <= diag_right
        both += left_diag and right_diag
        left_only += left_diag and not right_diag
        right_only += right_diag and not left_diag
    if a == "g" and b == "g":
        return 0, 0, 0
    if b == "g":
        return both + left_only, 0, 0
    if a == "g":
        return both + right_only, 0, 0
    if spec.op in SYMMETRIC_OPS:
        return both, left_only + right_only, 0
    return both, left_only, right_only


def gamma_factor(n: int, r: int, c: int) -> float:
    """The paper's γ = (r − c) / (n^log2(7) − c) of an n x n scheme of rank r with c recursive calls
    (n^log2(7) = 7^log2(n), exact for powers of two, is Strassen's count of products)."""
    return (r - c) / (7 ** math.log2(n) - c)
