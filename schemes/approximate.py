"""Approximate (real-valued) decompositions: an output of their own, never a scheme.

A numeric fit that does not round to an exact scheme can still be worth keeping (border rank,
a start for later work, a float kernel with a known error). It is written as a JSON file with
``"domain": "R"``, float factors and the residual it had; ``flipforge verify`` recomputes its
error and reports it as APPROXIMATE, never as VALID. Exact code never reads these files as
schemes: ``Scheme`` has no real domain.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import FormatError
from .formats._safe import check_input_file
from .targets import parse_target
from .tensor import Tensor

__all__ = ["Approximation", "is_approximate_file", "read_approximation", "write_approximation"]

REAL_DOMAIN = "R"


@dataclass(frozen=True)
class Approximation:
    """Float factors u (r, I), v (r, J), w (r, K) that nearly decompose ``tensor``."""

    tensor: Tensor
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.u.shape[0])

    def errors(self) -> tuple[float, float]:
        """(squared residual ‖Σ u⊗v⊗w − T‖², largest absolute entry error), recomputed."""
        diff = np.einsum("ti,tj,tk->ijk", self.u, self.v, self.w) - np.asarray(self.tensor.array, dtype=np.float64)
        return float(np.sum(diff * diff)), float(np.abs(diff).max(initial=0.0))


def write_approximation(approx: Approximation, path: str | Path, meta: dict | None = None) -> Path:
    """Write ``approx`` as an R-domain JSON file (its residual recomputed and recorded)."""
    residual, largest = approx.errors()
    body = {
        "target": approx.tensor.label(with_shape=False),
        "domain": REAL_DOMAIN,
        "rank": approx.rank,
        "residual": residual,
        "largest_error": largest,
        "u": approx.u.tolist(),
        "v": approx.v.tolist(),
        "w": approx.w.tolist(),
        "meta": dict(meta or {}),
    }
    out = Path(path)
    out.write_text(json.dumps(body, indent=1) + "\n")
    return out


def is_approximate_file(path: str | Path) -> bool:
    """True for a JSON file that claims the real domain (cheap: reads at most 1 MB of the head)."""
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:  # the ordinary reader reports what is wrong with it
        return False
    return b'"domain": "R"' in head or b'"domain":"R"' in head


def read_approximation(path: str | Path) -> Approximation:
    """Read an R-domain JSON file; FormatError says what is wrong with it."""
    p = Path(path)
    check_input_file(p)
    try:
        body = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{p}: not a readable JSON file ({exc})") from None
    if not isinstance(body, dict) or body.get("domain") != REAL_DOMAIN:
        raise FormatError(f"{p}: not an approximate (domain R) file")
    if not isinstance(body.get("target"), str):
        raise FormatError(f'{p}: an approximate file names its target ("target": "3x3x3")')
    tensor = parse_target(body["target"])
    factors = []
    for name, width in zip("uvw", tensor.shape, strict=True):
        try:
            arr = np.array(body.get(name), dtype=np.float64)
        except (TypeError, ValueError):
            raise FormatError(f"{p}: {name} must be a list of rows of numbers") from None
        if arr.ndim != 2 or arr.shape[1] != width or not np.all(np.isfinite(arr)):
            raise FormatError(f"{p}: {name} must be rows of {width} finite numbers")
        factors.append(arr)
    if len({f.shape[0] for f in factors}) != 1:
        raise FormatError(f"{p}: u, v and w have different numbers of terms")
    claimed = body.get("residual")
    if claimed is not None and not (isinstance(claimed, (int, float)) and math.isfinite(claimed)):
        raise FormatError(f"{p}: residual must be a number")
    return Approximation(tensor, *factors)
