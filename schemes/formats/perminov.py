"""Perminov's formats (FastMatrixMultiplication / ternary_flip_graph).

Full JSON::

    {"n": [n1, n2, n3], "m": rank, "z2": false, "u": [[n1*n2] x rank], "v": [[n2*n3] x rank],
     "w": [[n3*n1] x rank], "complexity": naive additions, "multiplications": [...], "elements": [...]}

``w[t][k*n1+i]`` is the coefficient of product t in C[i][k] (C^T, as ours). Rationals are strings.

Reduced JSON (``*_reduced.json``): sparse ``{"index", "value"}`` rows over the inputs plus fresh
variables (``u_fresh``, ``v_fresh``: index n1*n2+t is fresh variable t; ``w`` has one row per entry
of C^T over products 0..r-1 and fresh variables r+t from ``w_fresh``). Expanded here to dense
U, V, W. Text (``.txt``): ``n1 n2 n3 rank`` then all U rows, all V rows, all W rows (C^T).
A file name ending ``_ZT``/``_Z``/``_Q`` states its ring; ``"z2": true`` claims F2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..coeffs import format_coeff
from ..domain import Domain
from ..errors import FormatError
from ..metrics import naive_additions
from ..scheme import Scheme
from ._io import build_scheme, claimed_domain, dense, parse_number, read_text

__all__ = [
    "is_perminov",
    "from_perminov_dict",
    "to_perminov_dict",
    "read_perminov_json",
    "write_perminov_json",
    "from_perminov_text",
    "to_perminov_text",
    "read_perminov_txt",
    "write_perminov_txt",
]


def is_perminov(obj: object) -> bool:
    return isinstance(obj, dict) and "n" in obj and "u" in obj and "v" in obj and "w" in obj


def _expand(rows: list[list[dict[str, Any]]], fresh: list[list[dict[str, Any]]], width: int, where: str) -> np.ndarray:
    """Dense rows over ``width`` base variables, fresh variable t being index width + t."""
    basis: list[np.ndarray] = []

    def vector(sparse: list[dict[str, Any]]) -> np.ndarray:
        out = dense(1, width)[0]
        for item in sparse:
            idx, val = int(item["index"]), parse_number(str(item["value"]))
            if 0 <= idx < width:
                out[idx] += val
            elif width <= idx < width + len(basis):
                out += val * basis[idx - width]
            else:
                raise FormatError(f"{where}: reduced form refers to undefined variable {idx}")
        return out

    for f in fresh:
        basis.append(vector(f))
    return np.array([vector(r) for r in rows], dtype=object).reshape(len(rows), width)


def from_perminov_dict(obj: dict[str, Any], path: Path) -> Scheme:
    """A Scheme from a parsed Perminov JSON object, full or reduced."""
    where = str(path)
    try:
        n1, n2, n3 = (int(x) for x in obj["n"])
        r = int(obj["m"])
        if "u_fresh" in obj or "w_fresh" in obj:
            u = _expand(obj["u"], obj.get("u_fresh", []), n1 * n2, where)
            v = _expand(obj["v"], obj.get("v_fresh", []), n2 * n3, where)
            w_entries = _expand(obj["w"], obj.get("w_fresh", []), r, where)
            if w_entries.shape[0] != n3 * n1:
                raise FormatError(f"{where}: reduced w has {w_entries.shape[0]} rows, expected n3*n1 = {n3 * n1}")
            w = w_entries.T
        else:
            u, v, w = obj["u"], obj["v"], obj["w"]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{where}: malformed Perminov scheme ({exc})") from None
    domain = Domain.parse("F2") if obj.get("z2") else claimed_domain(path.stem)
    scheme = build_scheme((n1, n2, n3), u, v, w, path, "perminov-json", domain=domain)
    if scheme.rank != r:
        raise FormatError(f"{where}: says rank {r} but has {scheme.rank} products")
    return scheme


def read_perminov_json(path: Path) -> list[Scheme]:
    try:
        obj = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not is_perminov(obj):
        raise FormatError(f"{path}: not a Perminov scheme (needs n, m, u, v, w)")
    return [from_perminov_dict(obj, path)]


def _human(row: np.ndarray, names: list[str]) -> str:
    parts = []
    for idx in np.flatnonzero(row != 0):
        c = format_coeff(row[idx])
        sign = "-" if str(c).startswith("-") else "+"
        mag = str(c).lstrip("-")
        parts.append(f"{sign} {'' if mag == '1' else mag + '*'}{names[idx]}")
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:] if text else "0"


def to_perminov_dict(scheme: Scheme) -> dict[str, Any]:
    """The full Perminov JSON object of a matmul scheme."""
    if scheme.fmt is None:
        raise FormatError("Perminov JSON holds matrix multiplication schemes only")
    n, m, p = scheme.fmt
    a, b, _ = scheme.tensor.entry_names()
    mult = [f"m{t + 1} = ({_human(scheme.u[t], a)}) * ({_human(scheme.v[t], b)})" for t in range(scheme.rank)]
    prods = [f"m{t + 1}" for t in range(scheme.rank)]
    elements = [f"c{i + 1}{k + 1} = {_human(scheme.w[:, k * n + i], prods)}" for i in range(n) for k in range(p)]
    return {
        "n": [n, m, p],
        "m": scheme.rank,
        "z2": bool(scheme.domain is not None and scheme.domain.p == 2),
        "complexity": naive_additions(scheme),
        "u": [[format_coeff(x) for x in row] for row in scheme.u],
        "v": [[format_coeff(x) for x in row] for row in scheme.v],
        "w": [[format_coeff(x) for x in row] for row in scheme.w],
        "multiplications": mult,
        "elements": elements,
    }


def write_perminov_json(schemes: list[Scheme], path: Path) -> None:
    obj = to_perminov_dict(schemes[0])
    body = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items())
    path.write_text("{\n" + body + "\n}\n")


def from_perminov_text(text: str, path: Path) -> Scheme:
    """A Scheme from the ``n1 n2 n3 rank`` + U, V, W rows text format."""
    tokens = text.split()
    try:
        n1, n2, n3, r = (int(x) for x in tokens[:4])
    except ValueError:
        raise FormatError(f"{path}: expected 'n1 n2 n3 rank' at the start") from None
    sizes = (n1 * n2, n2 * n3, n3 * n1)
    need = 4 + r * sum(sizes)
    if len(tokens) != need:
        raise FormatError(f"{path}: expected {need - 4} coefficients for rank {r}, found {len(tokens) - 4}")
    vals = [parse_number(t) for t in tokens[4:]]
    out, pos = [], 0
    for size in sizes:
        out.append([vals[pos + t * size : pos + (t + 1) * size] for t in range(r)])
        pos += r * size
    return build_scheme((n1, n2, n3), *out, path, "perminov-txt", domain=claimed_domain(path.stem))


def read_perminov_txt(path: Path) -> list[Scheme]:
    return [from_perminov_text(read_text(path), path)]


def to_perminov_text(scheme: Scheme) -> str:
    if scheme.fmt is None:
        raise FormatError("Perminov text holds matrix multiplication schemes only")
    lines = [" ".join(map(str, (*scheme.fmt, scheme.rank)))]
    for arr in scheme.factors:
        lines.extend(" ".join(str(format_coeff(x)) for x in row) for row in arr)
    return "\n".join(lines) + "\n"


def write_perminov_txt(schemes: list[Scheme], path: Path) -> None:
    path.write_text(to_perminov_text(schemes[0]))


def looks_like_perminov_text(head: str) -> bool:
    return re.match(r"\s*\d+\s+\d+\s+\d+\s+\d+\s*\n", head) is not None
