"""The Tensor object every command works on, plus the two oldest target kinds: matrix
multiplication <n,m,p> in the cyclic convention, and any 3-way tensor from a ``.npy`` file.

The cyclic convention (DESIGN.md §1): ``T[i*m+j, j*p+k, k*n+i] = 1``, so the third factor of a
scheme indexes C transposed: ``w[k*n+i]`` is the coefficient of a product in C[i][k]. Structured
products and polynomial products live in ``targets/``, which names every kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import FormatError, TensorError

if TYPE_CHECKING:
    from .targets.layout import Layout

__all__ = [
    "MAX_TENSOR_ENTRIES",
    "Tensor",
    "parse_format",
    "matmul_tensor",
    "load_tensor",
    "parse_target",
    "format_name",
    "sorted_format_name",
]

MAX_DIM = 64
MAX_TENSOR_ENTRIES = 1 << 23
"""The largest target tensor held densely (8.4M entries, 64 MB as int64): <14,14,14> fits, as do
the largest published schemes (<12,12,12>); a file announcing a larger format is refused at once
instead of allocating gigabytes."""


def parse_format(text: str | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    """Read ``3x3x3``, ``3,4,5``, ``<2,2,3>`` or a triple into (n, m, p), each >= 1."""
    if isinstance(text, (tuple, list)):
        parts = list(text)
        if any(isinstance(x, bool) or not isinstance(x, (int, np.integer, str)) for x in parts):
            raise TensorError(f"bad format {text!r}: expected three positive integers like 3x3x3")
    else:
        s = str(text).strip().strip("<>").strip()
        parts = [x for x in re.split(r"\s*[x,X*\s]\s*", s) if x != ""]
    try:
        dims = tuple(int(x) for x in parts)
    except (TypeError, ValueError):
        raise TensorError(f"bad format {text!r}: expected three positive integers like 3x3x3") from None
    if len(dims) != 3 or any(d < 1 for d in dims):
        raise TensorError(f"bad format {text!r}: expected three positive integers like 3x3x3")
    if any(d > MAX_DIM for d in dims):
        raise TensorError(f"bad format {text!r}: dimensions above {MAX_DIM} are not supported")
    return dims  # type: ignore[return-value]


def format_name(fmt: tuple[int, int, int]) -> str:
    """The CLI spelling of a format, ``3x4x5``."""
    return "x".join(str(d) for d in fmt)


def sorted_format_name(fmt: str | tuple[int, int, int]) -> str:
    """The format with n <= m <= p (``5x3x4`` -> ``3x4x5``): rank does not depend on the order,
    so best-known tables and the database key formats this way."""
    return format_name(tuple(sorted(parse_format(fmt))))  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class Tensor:
    """A target tensor of shape (I, J, K) with integer entries.

    ``fmt`` is set for matrix multiplication, where I = n*m, J = m*p, K = p*n. ``kind`` is
    ``matmul``, ``structured`` (``name`` is then the product, e.g. ``ug-444``), ``poly``
    (``pm-22``) or ``file`` (any tensor; ``name`` is the file's stem).
    """

    name: str
    array: np.ndarray = field(repr=False)
    fmt: tuple[int, int, int] | None = None
    kind: str = "file"

    def __post_init__(self) -> None:
        if self.fmt is not None and self.kind != "matmul":
            object.__setattr__(self, "kind", "matmul")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def is_matmul(self) -> bool:
        return self.fmt is not None

    @property
    def is_named(self) -> bool:
        """True when the name alone defines the tensor (matmul, structured and polynomial products)."""
        return self.kind != "file"

    @property
    def key(self) -> str:
        """The stable target name: ``3x4x5``, ``ug-444``, ``pm-22``, or a file tensor's name."""
        return format_name(self.fmt) if self.fmt is not None else self.name

    def label(self, with_shape: bool = True) -> str:
        """Short human name: the target's name, and for a file tensor (``with_shape``) its shape;
        run ids and run configs use the name alone."""
        if self.is_named:
            return self.key
        return f"{self.name}[{'x'.join(map(str, self.shape))}]" if with_shape else self.name

    def layout(self) -> Layout | None:
        """How the three index ranges map to matrix entries (None for a file tensor)."""
        from .targets import target_layout  # here: targets imports this module

        return target_layout(self)

    def entry_names(self) -> tuple[list[str], list[str], list[str]]:
        """Names of the three index ranges, e.g. ``a12``, ``b21``, ``c11`` (for matmul c is C^T: cKI)."""
        if self.fmt is None:
            layout = self.layout()
            if layout is not None:
                return tuple(  # type: ignore[return-value]
                    [op.entry_name(t) for t in range(op.size())] for op in (layout.left, layout.right, layout.out)
                )
            i, j, k = self.shape
            return ([f"x{t}" for t in range(i)], [f"y{t}" for t in range(j)], [f"z{t}" for t in range(k)])
        n, m, p = self.fmt
        a = [f"a{i + 1}{j + 1}" if max(n, m) < 10 else f"a{i + 1}_{j + 1}" for i in range(n) for j in range(m)]
        b = [f"b{j + 1}{k + 1}" if max(m, p) < 10 else f"b{j + 1}_{k + 1}" for j in range(m) for k in range(p)]
        c = [f"c{k + 1}{i + 1}" if max(n, p) < 10 else f"c{k + 1}_{i + 1}" for k in range(p) for i in range(n)]
        return a, b, c

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tensor):
            return NotImplemented
        same_kind = self.fmt == other.fmt and self.kind == other.kind
        return same_kind and self.shape == other.shape and bool(np.array_equal(self.array, other.array))

    def __hash__(self) -> int:
        return hash((self.name, self.fmt, self.shape))


def _check_size(shape: tuple[int, ...], label: str) -> None:
    entries = shape[0] * shape[1] * shape[2]
    if entries > MAX_TENSOR_ENTRIES:
        raise TensorError(
            f"{label}: a tensor of {entries} entries ({'x'.join(map(str, shape))}) is too large "
            f"(at most {MAX_TENSOR_ENTRIES} entries, e.g. <14,14,14>)"
        )


@lru_cache(maxsize=256)
def _matmul_array(n: int, m: int, p: int) -> np.ndarray:
    t = np.zeros((n * m, m * p, p * n), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            for k in range(p):
                t[i * m + j, j * p + k, k * n + i] = 1
    t.setflags(write=False)
    return t


def matmul_tensor(fmt: str | tuple[int, int, int]) -> Tensor:
    """The tensor of <n,m,p>: A is n x m, B is m x p, both row-major; the third index is C^T."""
    n, m, p = parse_format(fmt)
    _check_size((n * m, m * p, p * n), f"<{n},{m},{p}>")
    return Tensor("matmul", _matmul_array(n, m, p), (n, m, p))


def load_tensor(path: str | Path) -> Tensor:
    """Load any 3-way integer tensor from a dense ``.npy`` file (no pickles; header checked first)."""
    from .formats._safe import load_npy  # here, not at the top: the formats package imports this module

    path = Path(path)
    try:
        arr = load_npy(path)
    except FormatError as exc:
        raise TensorError(str(exc)) from None
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise TensorError(f"{path}: a target tensor must be a non-empty 3-way array, got shape {arr.shape}")
    _check_size(arr.shape, str(path))
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.rint(arr)):
            raise TensorError(f"{path}: target tensor entries must be integers")
    elif arr.dtype.kind not in "iub":
        raise TensorError(f"{path}: target tensor dtype {arr.dtype} is not an integer type")
    if arr.dtype.kind in "uf" and arr.size:
        big = np.iinfo(np.int64)
        # compared exactly: uint64 above 2^63-1 (or a float beyond int64) would wrap when converted
        lo, hi = arr.min(), arr.max()
        if (arr.dtype.kind == "u" and int(hi) > big.max) or (
            arr.dtype.kind == "f" and (float(hi) >= 2.0**63 or float(lo) < -(2.0**63))
        ):
            raise TensorError(f"{path}: a target tensor entry is outside the 64-bit integer range")
    out = arr.astype(np.int64)
    out.setflags(write=False)
    return Tensor(path.stem, out, None)


def parse_target(spec: str | Path) -> Tensor:
    """A target as the CLI and run folders name it (see ``targets.parse_target``)."""
    from .targets import parse_target as parse

    return parse(spec)
