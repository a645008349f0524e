"""Exact coefficients: parse ints, "a/b" strings and exactly-representable floats into exact arrays.

A coefficient array is int64 when every entry is an integer that fits, otherwise an object array
of Python ints and Fractions. Floats are accepted only where they hold a short dyadic rational
exactly (AlphaTensor stores 1/2 and 1/8 as float64); anything else is refused, never rounded.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from numbers import Integral

import numpy as np

from .errors import SchemeError

__all__ = [
    "to_fraction",
    "exact_array",
    "scaled_integers",
    "is_integral",
    "format_coeff",
    "coeff_rows",
    "max_abs",
    "residues",
]

_INT64_MAX = 2**62
_MAX_FLOAT_DENOMINATOR = 2**24
_RATIONAL = re.compile(r"\s*([+-]?\d+)\s*(?:/\s*([+-]?\d+)\s*)?")


def to_fraction(x: object) -> Fraction | int:
    """One exact coefficient from an int, Fraction, "a/b" string or exactly-held float."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, (int, Integral)):
        return int(x)
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else x
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if not math.isfinite(f):
            raise SchemeError(f"coefficient {x!r} is not a finite number")
        q = Fraction(f)
        if q.denominator > _MAX_FLOAT_DENOMINATOR:
            raise SchemeError(f'coefficient {f!r} is not an exact short rational; store it as "a/b"')
        return int(q) if q.denominator == 1 else q
    if isinstance(x, str):
        m = _RATIONAL.fullmatch(x)
        if not m:
            raise SchemeError(f"coefficient {x!r} is not an integer or a fraction a/b")
        num = int(m.group(1))
        den = int(m.group(2)) if m.group(2) is not None else 1
        if den == 0:
            raise SchemeError(f"coefficient {x!r} has a zero denominator")
        q = Fraction(num, den)
        return int(q) if q.denominator == 1 else q
    if isinstance(x, (complex, np.complexfloating)):
        raise SchemeError(f"complex coefficient {x!r}: only rational schemes are supported")
    raise SchemeError(f"coefficient {x!r} of type {type(x).__name__} is not a number")


def _dyadic_array(data: np.ndarray) -> np.ndarray:
    """Fractions for a float array whose entries are short dyadic rationals (vectorised)."""
    for k in range(1, 25):
        scaled = data * float(2**k)
        if np.array_equal(scaled, np.rint(scaled)) and np.all(np.abs(scaled) < 2**53):
            num = np.rint(scaled).astype(np.int64)
            den = np.int64(2**k)
            g = np.gcd(num, den)
            make = np.frompyfunc(lambda a, b: int(a) if b == 1 else Fraction(int(a), int(b)), 2, 1)
            return make(num // g, den // g).astype(object)
    return np.array([to_fraction(v) for v in data.flat], dtype=object).reshape(data.shape)


def scaled_integers(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """``(N, d)`` with ``arr == N / d``: N int64 (object for huge values), d the common denominator."""
    if arr.dtype != object:
        return arr, 1
    d = 1
    for den in {x.denominator for x in arr.flat if type(x) is Fraction}:
        d = math.lcm(d, den)
    if d == 1:
        out = arr
    else:
        out = np.array(
            [x.numerator * (d // x.denominator) if type(x) is Fraction else x * d for x in arr.flat], dtype=object
        ).reshape(arr.shape)
    return (out.astype(np.int64), d) if max_abs(out) < _INT64_MAX else (out, d)


def _narrow(arr: np.ndarray) -> np.ndarray:
    """An object array of Python ints becomes int64 when every value fits; anything else is kept."""
    if arr.dtype == object and all(type(v) is int for v in arr.flat) and max_abs(arr) < _INT64_MAX:
        return arr.astype(np.int64)
    return arr


def exact_array(data: object, shape_name: str = "factor") -> np.ndarray:
    """A 2-D exact coefficient array (int64, or object with ints/Fractions) from any input."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "iub":
        arr = data.astype(np.int64)
    elif isinstance(data, np.ndarray) and data.dtype.kind == "f":
        if not np.all(np.isfinite(data)):
            raise SchemeError(f"{shape_name}: coefficients must be finite numbers")
        if np.array_equal(data, np.rint(data)) and np.all(np.abs(data) < 2**53):
            arr = data.astype(np.int64)
        else:
            arr = _dyadic_array(data.astype(np.float64))
    elif isinstance(data, np.ndarray) and data.dtype.kind == "c":
        raise SchemeError(f"{shape_name}: complex coefficients are not supported (only rational schemes)")
    else:
        try:
            obj = np.array(data, dtype=object)
        except ValueError:
            raise SchemeError(f"{shape_name}: rows have different lengths") from None
        if obj.ndim != 2:
            raise SchemeError(f"{shape_name}: expected a 2-D array of coefficients, got {obj.ndim} dimensions")
        kinds = {type(v) for v in obj.flat}
        if kinds <= {int}:
            arr = obj
        elif kinds <= {int, Fraction}:
            arr = obj.copy()
            for idx in np.flatnonzero([type(v) is Fraction and v.denominator == 1 for v in obj.flat]):
                arr.flat[idx] = int(arr.flat[idx])
        else:
            arr = np.empty(obj.shape, dtype=object)
            arr.flat[:] = [to_fraction(v) for v in obj.flat]
    if arr.ndim != 2:
        raise SchemeError(f"{shape_name}: expected a 2-D array of coefficients, got {arr.ndim} dimensions")
    return _narrow(arr)


def is_integral(arr: np.ndarray) -> bool:
    """True when every coefficient is an integer."""
    return arr.dtype != object or all(isinstance(v, int) for v in arr.flat)


def max_abs(arr: np.ndarray) -> int:
    """The largest absolute integer value in an integer array (0 when empty)."""
    if arr.size == 0:
        return 0
    return int(np.max(np.abs(arr)))


def format_coeff(v: object) -> int | str:
    """A coefficient as JSON wants it: an int, or the string "a/b"."""
    q = to_fraction(v)
    return q if isinstance(q, int) else f"{q.numerator}/{q.denominator}"


def coeff_rows(arr: np.ndarray) -> list[list[int | str]]:
    """A factor as JSON rows: ints, and "a/b" strings for the non-integers (exact arrays only)."""
    if arr.dtype != object:
        return arr.tolist()
    return [[x if type(x) is int else format_coeff(x) for x in row] for row in arr.tolist()]


def residues(arr: np.ndarray, p: int) -> np.ndarray | None:
    """Coefficients mod p in [0, p), or None when a denominator is divisible by p."""
    if arr.dtype != object:
        return np.mod(arr, p).astype(np.int64)
    out = np.empty(arr.shape, dtype=np.int64)
    for idx, x in enumerate(arr.flat):
        if isinstance(x, Fraction):
            if x.denominator % p == 0:
                return None
            out.flat[idx] = x.numerator * pow(x.denominator, -1, p) % p
        else:
            out.flat[idx] = int(x) % p
    return out
