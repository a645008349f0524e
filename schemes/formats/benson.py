"""Benson–Ballard ``fast-matmul`` coefficient files (also Stankovski's ``.txt``).

    # optional comment
    <U: n*m rows, r columns>
    #
    <V: m*p rows, r columns>
    #
    <W: n*p rows, r columns>

Column t is product t. Rows are row-major: U row i*m+j is A[i][j], V row j*p+k is B[j][k], and
**W row i*p+k is C[i][k] — C itself, not transposed** (unlike ours). Entries are integers or a/b.
The format follows from the block heights (n·m, m·p, n·p). Several schemes may be concatenated,
each starting with a line ``=== name`` (the Madan SAT collection). The format is meant for real
arithmetic: a file claims a domain only by a token of its name (``mod2``, ``z``, ...), else it is
judged in the ring of its coefficients, never in a finite field.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..scheme import Scheme
from ._io import build_scheme, claimed_domain, dims_from_sizes, parse_number, read_text

__all__ = ["from_benson_text", "to_benson_text", "read_benson", "write_benson", "looks_like_benson"]

_NUMERIC_ROW = re.compile(r"\s*-?\d+(?:/\d+)?(?:\s+-?\d+(?:/\d+)?)*\s*")


def looks_like_benson(head: str) -> bool:
    lines = [ln for ln in head.split("\n") if ln.strip()]
    if lines and lines[0].startswith("==="):
        return True
    body = [ln for ln in lines if not ln.startswith("#")]
    return (
        bool(body)
        and any(ln.startswith("#") for ln in lines[1:])
        and all(_NUMERIC_ROW.fullmatch(ln) for ln in body[:-1])
    )


def _block(rows: list[str], where: str) -> np.ndarray:
    try:
        return np.array([[int(x) for x in r.split()] for r in rows], dtype=np.int64)
    except ValueError:
        pass
    try:
        vals = [[parse_number(x) for x in r.split()] for r in rows]
    except Exception:
        raise FormatError(f"{where}: entries must be integers or a/b") from None
    if len({len(r) for r in vals}) > 1:
        raise FormatError(f"{where}: rows of one block have different lengths")
    return np.array(vals, dtype=object)


def from_benson_text(lines: list[str], path: Path, index: int = 0, name: str | None = None) -> Scheme:
    """One scheme from its lines (comment lines ``#`` with text are skipped; bare ``#`` separates)."""
    where = f"{path}" + (f" [{name}]" if name else "")
    blocks: list[list[str]] = [[]]
    for ln in lines:
        s = ln.strip()
        if not s:
            continue
        if s.startswith("#"):
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append(s)
    blocks = [b for b in blocks if b]
    if len(blocks) != 3:
        raise FormatError(f"{where}: expected three coefficient blocks separated by '#', found {len(blocks)}")
    ub, vb, wb = (_block(b, where) for b in blocks)
    if ub.ndim != 2 or not (ub.shape[1] == vb.shape[1] == wb.shape[1]):
        raise FormatError(f"{where}: the three blocks must have the same number of columns (the rank)")
    n, m, p = dims_from_sizes(ub.shape[0], vb.shape[0], wb.shape[0], where)
    w = wb.reshape(n, p, -1).transpose(1, 0, 2).reshape(p * n, -1)
    meta = {"name": name} if name else {}
    return build_scheme((n, m, p), ub.T, vb.T, w.T, path, "benson", index, claimed_domain(path.name), **meta)


def read_benson(path: Path) -> list[Scheme]:
    lines = read_text(path).split("\n")
    if not any(ln.startswith("===") for ln in lines):
        return [from_benson_text(lines, path)]
    out: list[Scheme] = []
    name, chunk = None, []
    for ln in lines + ["=== end"]:
        if ln.startswith("==="):
            if chunk and any(s.strip() and not s.startswith("#") for s in chunk):
                out.append(from_benson_text(chunk, path, len(out), name))
            name, chunk = ln[3:].strip(), []
        else:
            chunk.append(ln)
    return out


def to_benson_text(scheme: Scheme) -> str:
    from ..coeffs import format_coeff

    if scheme.fmt is None:
        raise FormatError("the Benson format holds matrix multiplication schemes only")
    n, m, p = scheme.fmt
    w_c = scheme.w.T.reshape(p, n, -1).transpose(1, 0, 2).reshape(n * p, -1)
    blocks = []
    for arr in (scheme.u.T, scheme.v.T, w_c):
        blocks.append("\n".join(" ".join(str(format_coeff(x)) for x in row) for row in arr))
    return "\n#\n".join(blocks) + "\n"


def write_benson(schemes: list[Scheme], path: Path) -> None:
    path.write_text(to_benson_text(schemes[0]))
