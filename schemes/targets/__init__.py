"""Targets: every bilinear map flipforge searches, named the way users write it.

``parse_target`` reads a name and returns the exact :class:`~flipforge.schemes.tensor.Tensor`:

- ``3x4x5`` (also ``<3,4,5>`` or ``gg-345``): matrix multiplication in the cyclic convention;
- ``ug-444``, ``gt-444c``, ...: a product of structured matrices (``structured.py``; the letter
  codes and suffixes of the flip-cpd paper, general outputs transposed as for matmul);
- ``pm-22``: the coefficients of a product of two polynomials (``polynomial.py``);
- ``file:PATH.npy`` or ``PATH.npy``: any 3-way integer tensor.

A name is the target's stable key (database, run folders, native JSON's ``"tensor"``); the
layout (``layout.py``) says how each index maps to a matrix entry, for export and explanations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TensorError
from ..tensor import Tensor, load_tensor, matmul_tensor
from .layout import Layout, Operand, matmul_layout
from .polynomial import PolySpec, parse_poly, poly_array, poly_layout
from .structured import (
    OPS,
    StructuredSpec,
    gamma_factor,
    parse_structured,
    recursion_counts,
    structured_array,
    structured_layout,
)

if TYPE_CHECKING:
    from ..scheme import Scheme

__all__ = [
    "KINDS",
    "OPS",
    "Layout",
    "Operand",
    "PolySpec",
    "StructuredSpec",
    "gamma_factor",
    "parse_target",
    "recursion",
    "recursion_counts",
    "structured_spec",
    "target_layout",
]

KINDS = ("matmul", "structured", "poly", "file")
"""The target kinds, as ``Tensor.kind`` spells them."""

TARGET_HELP = "a format like 3x3x3, a structured product like ug-444, pm-22, or a tensor file PATH.npy"


def parse_target(spec: str | Path) -> Tensor:
    """The target a name or a ``.npy`` path stands for; TensorError says what was expected."""
    text = str(spec).strip()
    if text.startswith("file:"):
        return load_tensor(text[len("file:") :])
    if text.endswith(".npy"):
        return load_tensor(spec)
    poly = parse_poly(text)
    if poly is not None:
        return Tensor(poly.name, poly_array(poly), None, "poly")
    structured = parse_structured(text)
    if structured is not None:
        if structured.op == "gg" and not structured.suffix:
            return matmul_tensor(structured.dims)
        return Tensor(structured.name, structured_array(structured), None, "structured")
    try:
        return matmul_tensor(text)
    except TensorError as exc:
        if any(ch.isdigit() for ch in text) and ("x" in text or "," in text or "<" in text):
            raise  # a format with a bad size: its own message is the precise one
        raise TensorError(f"bad target {text!r}: expected {TARGET_HELP}") from exc


def structured_spec(tensor: Tensor) -> StructuredSpec | None:
    """The structured product a tensor is (None for matmul, polynomials and file tensors)."""
    return parse_structured(tensor.name) if tensor.kind == "structured" else None


def recursion(scheme: Scheme) -> dict[str, Any] | None:
    """The paper's recursive-call counts of a structured scheme (``recursive_calls``, the
    ``rec-a-b-c`` of its file names) and, where the other terms are general products so that the
    paper's bound applies (``xg`` ops and ``gt``), the asymptotic factor ``gamma`` =
    (r − c)/(n^log2(7) − c) with c the first count; None for other targets."""
    spec = structured_spec(scheme.tensor)
    if spec is None:
        return None
    counts = recursion_counts(spec, scheme.u, scheme.v)
    a, b = spec.op
    square = len(set(spec.dims)) == 1 and not spec.suffix
    simple = square and ((b == "g" and a != "g") or spec.op == "gt")
    gamma = gamma_factor(spec.dims[0], scheme.rank, counts[0]) if simple else None
    return {"recursive_calls": list(counts), "gamma": gamma}


def target_layout(tensor: Tensor) -> Layout | None:
    """The index-to-matrix-entry map of a named target (None for a file tensor)."""
    if tensor.fmt is not None:
        return matmul_layout(*tensor.fmt)
    if tensor.kind == "structured":
        return structured_layout(parse_structured(tensor.name))  # type: ignore[arg-type]
    if tensor.kind == "poly":
        return poly_layout(parse_poly(tensor.name))  # type: ignore[arg-type]
    return None
