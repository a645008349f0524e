"""Khoruzhii–Gelß–Pokutta ``flip-cpd`` files (``.npy`` and ``.txt``).

The target comes from the file name (``gg-345-rank47-...`` is <3,4,5>, ``ug-444-rank34-...`` the
structured product ``ug-444``) or from ``--target``; the rank from the length.

``.npy``: shape (1, 2·r·(nU + nV + nW)) int64 of alternating numerator, denominator; the
fractions are factor-major ``[U_1 .. U_r | V_1 .. V_r | W_1 .. W_r]``, each in the target's
parameter numbering, with **general outputs C[i][k] at i*n3+k (not transposed)** and packed
outputs (``uu``, X·Xᵀ) at ``sym_pack(i, k)``.

``.txt``::

    m1  = (a5 - a8 + a9)(b5 - b6 - b9)
    c1 = m7 + m9 - m18

``a``, ``b``, ``c`` carry 1-based indices in the same numbering (``c`` not transposed).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import FlipforgeError, FormatError
from ..scheme import Scheme
from ..targets import parse_target
from ..tensor import Tensor, matmul_tensor, parse_format
from ._io import build_scheme, dense, dims_from_sizes, read_text
from ._linear import parse_product
from ._safe import check_dense_size, load_npy

__all__ = ["read_flipcpd_npy", "read_flipcpd_txt", "looks_like_flipcpd_txt", "file_target", "output_order"]

_NAME_FMT = re.compile(r"(?:^|[-_])(\d)(\d)(\d)(?:[-_]|$)")
_NAME_TARGET = re.compile(r"^([a-z]{2}-(?:\d+x\d+x\d+|\d{2,3})[abc]?)(?=[-_.]|$)")


def file_target(path: Path, target: Tensor | None = None) -> Tensor:
    """The target a flip-cpd file holds: ``target`` when given (``--target``), else the operation
    in its name (``ug-444-rank34-...`` is ``ug-444``, ``gg-345-...`` is <3,4,5>, flip-cpd's
    polynomial ``pm-224`` is ``pm-22``), else a bare format such as ``333`` in the name."""
    if target is not None:
        return target
    m = _NAME_TARGET.match(path.name.lower())
    if m:
        name = m.group(1)
        poly = re.fullmatch(r"pm-(\d)(\d)(\d)", name)
        if poly and int(poly.group(1)) + int(poly.group(2)) == int(poly.group(3)):
            name = f"pm-{poly.group(1)}{poly.group(2)}"
        try:
            return parse_target(name)
        except FlipforgeError as exc:
            raise FormatError(f"{path}: the name says {name!r}, not a target flipforge knows ({exc})") from None
    m = _NAME_FMT.search(path.stem)
    if not m:
        raise FormatError(
            f"{path}: the file name must name the target (gg-333-rank23.npy, ug-444-rank34.txt), or give --target"
        )
    return matmul_tensor(tuple(int(x) for x in m.groups()))  # type: ignore[arg-type]


def output_order(tensor: Tensor) -> np.ndarray:
    """flipforge's output index for each flip-cpd one: general outputs C[i][k] are ``i*n3+k`` there
    and ``k*n1+i`` here (C transposed); packed outputs (``uu``, X·Xᵀ) and polynomials agree."""
    width = tensor.shape[2]
    layout = tensor.layout()
    if layout is None or layout.out.structure != "g":
        return np.arange(width)
    n1, n3 = layout.out.rows, layout.out.cols
    i, k = np.divmod(np.arange(n1 * n3), n3)
    return k * n1 + i


def looks_like_flipcpd_txt(head: str) -> bool:
    return re.match(r"\s*m\d+\s*=", head) is not None


def read_flipcpd_npy(path: Path, target: Tensor | None = None) -> list[Scheme]:
    """The one scheme in a flip-cpd ``.npy`` (header checked before the data is read)."""
    tensor = file_target(path, target)
    flat = load_npy(path).reshape(-1)
    if flat.dtype.kind not in "iu" or flat.size % 2:
        raise FormatError(f"{path}: expected integer numerator/denominator pairs")
    n_u, n_v, n_w = tensor.shape
    per_term = n_u + n_v + n_w
    if (flat.size // 2) % per_term:
        raise FormatError(
            f"{path}: length {flat.size // 2} is not a multiple of {per_term} ({n_u}+{n_v}+{n_w}) for {tensor.label()}"
        )
    nums, dens = flat[0::2], flat[1::2]
    if np.any(dens == 0):
        raise FormatError(f"{path}: a zero denominator")
    r = (flat.size // 2) // per_term
    if np.all(dens == 1):
        vals: np.ndarray = nums.astype(np.int64)
    else:
        vals = np.array([Fraction(int(a), int(b)) for a, b in zip(nums, dens, strict=True)], dtype=object)
    u = vals[: r * n_u].reshape(r, n_u)
    v = vals[r * n_u : r * (n_u + n_v)].reshape(r, n_v)
    w = np.empty((r, n_w), dtype=vals.dtype)
    w[:, output_order(tensor)] = vals[r * (n_u + n_v) :].reshape(r, n_w)
    return [build_scheme(tensor, u, v, w, path, "flipcpd-npy")]


def read_flipcpd_txt(path: Path, target: Tensor | None = None) -> list[Scheme]:
    """The one scheme of a flip-cpd text file (sizes checked before the matrices are allocated)."""
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
            elif m.group(3).strip() == "0":  # an output no product reaches (a dropped or zero entry)
                outputs[int(m.group(2))] = {}
            else:
                outputs[int(m.group(2))] = parse_product(m.group(3), "m")["m"]
        except FormatError as exc:
            raise FormatError(f"{where}:{lineno}: {exc}") from None
    if not products or not outputs:
        raise FormatError(f"{where}: needs product lines 'mN = ...' and output lines 'cN = ...'")
    order = sorted(products)
    if order != list(range(1, len(order) + 1)):
        raise FormatError(f"{where}: products must be numbered m1..m{len(order)}")
    tensor = _txt_target(path, target, products, outputs)
    n_u, n_v, n_w = tensor.shape
    r = len(order)
    for cols in (n_u, n_v, n_w):
        check_dense_size(r, cols, where)
    u, v, w = dense(r, n_u), dense(r, n_v), dense(r, n_w)
    for letter, arr in (("a", u), ("b", v)):
        for t in order:
            for k, c in products[t][letter].items():
                if not 1 <= int(k) <= arr.shape[1]:
                    raise FormatError(f"{where}: m{t} uses {letter}{k}, outside 1..{arr.shape[1]} for {tensor.label()}")
                arr[t - 1, int(k) - 1] = c
    ours = output_order(tensor)
    for out, form in outputs.items():
        if not 1 <= out <= n_w:
            raise FormatError(f"{where}: c{out} is outside 1..{n_w} for {tensor.label()}")
        for prod, c in form.items():
            if not 1 <= int(prod) <= r:
                raise FormatError(f"{where}: c{out} uses undefined product m{prod}")
            w[int(prod) - 1, ours[out - 1]] = c
    return [build_scheme(tensor, u, v, w, path, "flipcpd-txt")]


def _txt_target(path: Path, target: Tensor | None, products: dict[int, dict], outputs: dict[int, dict]) -> Tensor:
    """The target of a text file: given, named by the file, or (a general product in a file with no
    name) the format its largest indices imply."""
    if target is not None or _NAME_TARGET.match(path.name.lower()) or _NAME_FMT.search(path.stem):
        return file_target(path, target)
    nm = max((int(k) for f in products.values() for k in f["a"]), default=0)
    mp = max((int(k) for f in products.values() for k in f["b"]), default=0)
    n, m_, p = dims_from_sizes(nm, mp, max(outputs), str(path))
    return matmul_tensor(parse_format((n, m_, p)))
