"""Dumas–Pernet–Sedoglavic SMS triples: ``NAME_L.sms``, ``NAME_R.sms``, ``NAME_P.sms``.

    # optional comment
    <rows> <cols> R
    <i> <j> <value>      (1-based; value an integer or a/b)
    0 0 0

``L`` (r x n·m) holds the A-linear forms (row-major A), ``R`` (r x m·p) the B-linear forms, and
``P`` (n·p x r) gives C = P·(L·vec A ⊙ R·vec B) with row i*p+k for C[i][k] (C, not transposed).
One scheme spans three files: any of them may be named; the other two are found beside it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..scheme import Scheme
from ._io import build_scheme, dense, dims_from_sizes, parse_number, read_text
from ._safe import check_dense_size, check_input_file

__all__ = ["read_sms_matrix", "read_dps", "sms_parts", "is_primary_sms"]

_PART = re.compile(r"^(.*)_([LRP])\.sms$", re.IGNORECASE)


def sms_parts(path: Path) -> dict[str, Path]:
    """The L, R and P files of the triple that ``path`` belongs to."""
    m = _PART.match(path.name)
    if not m:
        raise FormatError(f"{path}: an SMS scheme is three files named NAME_L.sms, NAME_R.sms, NAME_P.sms")
    return {k: path.with_name(f"{m.group(1)}_{k}.sms") for k in "LRP"}


def is_primary_sms(path: Path) -> bool:
    """In a folder walk, only the L file stands for its triple."""
    m = _PART.match(path.name)
    return bool(m) and m.group(2).upper() == "L"


def read_sms_matrix(path: Path) -> np.ndarray:
    """A dense exact matrix from one SMS file; the announced size is checked before allocating."""
    check_input_file(path)
    lines = [ln.strip() for ln in read_text(path).split("\n")]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise FormatError(f"{path}: empty SMS file")
    head = lines[0].split()
    if len(head) < 2 or not all(re.fullmatch(r"\d{1,12}", x) for x in head[:2]):
        raise FormatError(f"{path}: the first line must be '<rows> <cols> R' with sizes as plain integers")
    rows, cols = int(head[0]), int(head[1])
    check_dense_size(rows, cols, str(path))
    out = dense(rows, cols)
    for ln in lines[1:]:
        parts = ln.split()
        if len(parts) != 3 or not all(re.fullmatch(r"[+-]?\d{1,12}", x) for x in parts[:2]):
            raise FormatError(f"{path}: bad entry line {ln[:80]!r}")
        i, j = int(parts[0]), int(parts[1])
        if i == 0 and j == 0:
            break
        if not (1 <= i <= rows and 1 <= j <= cols):
            raise FormatError(f"{path}: entry ({i}, {j}) outside a {rows} x {cols} matrix")
        out[i - 1, j - 1] = parse_number(parts[2])
    return out


def read_dps(path: Path) -> list[Scheme]:
    """The scheme of an SMS triple; every part must be a regular, readable file of sane size."""
    parts = sms_parts(path)
    for key, p in parts.items():
        if not p.exists():
            raise FormatError(f"{path}: the {key} part {p.name} of this SMS scheme is missing")
        check_input_file(p)
    left, right, post = (read_sms_matrix(parts[k]) for k in "LRP")
    where = str(parts["L"])
    if not (left.shape[0] == right.shape[0] == post.shape[1]):
        raise FormatError(
            f"{where}: L, R and P disagree on the rank ({left.shape[0]}, {right.shape[0]}, {post.shape[1]})"
        )
    n, m, p = dims_from_sizes(left.shape[1], right.shape[1], post.shape[0], where)
    w = post.reshape(n, p, -1).transpose(1, 0, 2).reshape(p * n, -1).T
    return [build_scheme((n, m, p), left, right, w, parts["L"], "sms")]
