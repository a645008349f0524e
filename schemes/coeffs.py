"""Exact coefficients: parse ints, "a/b" strings and exactly-representable floats into exact arrays.

A coefficient array is int64 when every entry is an integer that fits, otherwise an object array
of Python ints and Fractions. Floats are accepted only where they hold a short dyadic rational
exactly (AlphaTensor stores 1/2 and 1/8 as float64); anything else is refused, never rounded.

Complex schemes (AlphaEvolve's over ½Z[i]) hold Gaussian rationals: an object array whose
non-real entries are ``Gaussian`` (a + b·i, a and b exact rationals, b != 0) and whose real
entries stay ints and Fractions. In text a Gaussian rational is written ``"1/2+1/2i"``, ``"-i"``,
``"3/2i"`` (the rational before ``i`` is the imaginary part: ``1/2i`` means i/2).
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
    "Gaussian",
    "gaussian",
    "to_exact",
    "parts",
    "is_complex",
    "complex_scaled",
]

_INT64_MAX = 2**62
_MAX_FLOAT_DENOMINATOR = 2**24
_RATIONAL = re.compile(r"\s*([+-]?\d+)\s*(?:/\s*([+-]?\d+)\s*)?")


def _rational(x: int | Fraction) -> int | Fraction:
    q = Fraction(x)
    return int(q) if q.denominator == 1 else q


def _rational_text(q: int | Fraction) -> str:
    return str(q) if isinstance(q, int) else f"{q.numerator}/{q.denominator}"


class Gaussian:
    """An exact Gaussian rational ``re + im·i`` with ``im != 0`` (a real value is an int or Fraction).

    Immutable and hashable; + - * / with ints, Fractions and other Gaussians give exact results
    (a real result comes back as int or Fraction, see ``gaussian``). No ``abs``: a modulus is not
    rational, and a rational-only code path must fail loudly rather than misread a complex entry.
    """

    __slots__ = ("re", "im")

    def __init__(self, re: int | Fraction, im: int | Fraction) -> None:
        if im == 0:
            raise ValueError("Gaussian needs a nonzero imaginary part; use gaussian() for any value")
        object.__setattr__(self, "re", _rational(re))
        object.__setattr__(self, "im", _rational(im))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Gaussian is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Gaussian):
            return self.re == other.re and self.im == other.im
        if isinstance(other, (int, Fraction, np.integer)):
            return False  # im != 0
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(("Gaussian", self.re, self.im))

    def __add__(self, other: object) -> int | Fraction | Gaussian:
        a, b = parts(other)
        return gaussian(self.re + a, self.im + b)

    __radd__ = __add__

    def __neg__(self) -> Gaussian:
        return Gaussian(-self.re, -self.im)

    def __sub__(self, other: object) -> int | Fraction | Gaussian:
        a, b = parts(other)
        return gaussian(self.re - a, self.im - b)

    def __rsub__(self, other: object) -> int | Fraction | Gaussian:
        a, b = parts(other)
        return gaussian(a - self.re, b - self.im)

    def __mul__(self, other: object) -> int | Fraction | Gaussian:
        a, b = parts(other)
        return gaussian(self.re * a - self.im * b, self.re * b + self.im * a)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> int | Fraction | Gaussian:
        a, b = parts(other)
        norm = Fraction(a * a + b * b)
        if norm == 0:
            raise ZeroDivisionError("division of a Gaussian rational by zero")
        return gaussian((self.re * a + self.im * b) / norm, (self.im * a - self.re * b) / norm)

    def __rtruediv__(self, other: object) -> int | Fraction | Gaussian:
        a, b = parts(other)
        return gaussian(a, b) * self.inverse()

    def inverse(self) -> int | Fraction | Gaussian:
        """1 / self."""
        norm = Fraction(self.re * self.re + self.im * self.im)
        return gaussian(self.re / norm, -self.im / norm)

    def conjugate(self) -> Gaussian:
        return Gaussian(self.re, -self.im)

    def __complex__(self) -> complex:
        return complex(float(self.re), float(self.im))

    def __str__(self) -> str:
        mag = abs(self.im)
        body = "i" if mag == 1 else f"{_rational_text(mag)}i"
        if self.re == 0:
            return body if self.im > 0 else f"-{body}"
        return f"{_rational_text(self.re)}{'+' if self.im > 0 else '-'}{body}"

    def __repr__(self) -> str:
        return f"Gaussian({self})"


def gaussian(re: int | Fraction, im: int | Fraction = 0) -> int | Fraction | Gaussian:
    """The exact value ``re + im·i``: an int or Fraction when ``im`` is 0, else a Gaussian."""
    return _rational(re) if im == 0 else Gaussian(re, im)


def parts(x: object) -> tuple[int | Fraction, int | Fraction]:
    """(real part, imaginary part) of an exact coefficient (int, Fraction or Gaussian)."""
    if isinstance(x, Gaussian):
        return x.re, x.im
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x), 0
    if isinstance(x, Fraction):
        return x, 0
    if isinstance(x, bool):
        return int(x), 0
    raise TypeError(f"{x!r} is not an exact coefficient")


_RAT = r"\d+(?:/\d+)?"
_COMPLEX_FULL = re.compile(rf"([+-]?{_RAT})([+-])({_RAT})?\*?[ij]")
_IMAGINARY = re.compile(rf"([+-]?)({_RAT})?\*?[ij]")


def _parse_rational(text: str, whole: str) -> int | Fraction:
    num, _, den = text.partition("/")
    if den and int(den) == 0:
        raise SchemeError(f"coefficient {whole!r} has a zero denominator")
    return _rational(Fraction(int(num), int(den) if den else 1))


def to_exact(x: object) -> int | Fraction | Gaussian:
    """One exact coefficient, complex ones included: anything ``to_fraction`` reads, a Gaussian, a
    Python/numpy complex whose parts are exactly-held floats, or a string such as ``"1/2-3/2i"``."""
    if isinstance(x, Gaussian):
        return x
    if isinstance(x, (complex, np.complexfloating)):
        c = complex(x)
        return gaussian(to_fraction(c.real), to_fraction(c.imag))
    if isinstance(x, str) and x.strip()[-1:] in ("i", "j"):
        text = "".join(x.split())
        m = _COMPLEX_FULL.fullmatch(text)
        if m:
            im = _parse_rational(m.group(3) or "1", x)
            return gaussian(_parse_rational(m.group(1), x), -im if m.group(2) == "-" else im)
        m = _IMAGINARY.fullmatch(text)
        if m:
            im = _parse_rational(m.group(2) or "1", x)
            return gaussian(0, -im if m.group(1) == "-" else im)
        raise SchemeError(f"coefficient {x!r} is not a number a, a/b or a Gaussian rational such as 1/2+1/2i")
    return to_fraction(x)


def is_complex(arr: np.ndarray) -> bool:
    """True when some coefficient has a nonzero imaginary part (a Gaussian)."""
    return arr.dtype == object and any(type(x) is Gaussian for x in arr.flat)


def complex_scaled(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(Re, Im, d)`` with ``arr == (Re + Im·i) / d``: object arrays of Python ints, d the common
    denominator of every real and imaginary part. Exact for any size."""
    re_im = [parts(x) for x in arr.flat]
    d = 1
    for a, b in re_im:
        for q in (a, b):
            if type(q) is Fraction:
                d = math.lcm(d, q.denominator)
    re_part = np.array([int(a * d) for a, _ in re_im], dtype=object).reshape(arr.shape)
    im_part = np.array([int(b * d) for _, b in re_im], dtype=object).reshape(arr.shape)
    return re_part, im_part, d


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
    if isinstance(x, (complex, np.complexfloating, Gaussian)):
        raise SchemeError(f"complex coefficient {x}: a rational number is needed here")
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
    if is_complex(arr):
        raise SchemeError("complex coefficients have no rational scaling (use complex_scaled)")
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
        re_part = exact_array(np.ascontiguousarray(data.real), shape_name)
        im_part = exact_array(np.ascontiguousarray(data.imag), shape_name)
        arr = np.empty(data.shape, dtype=object)
        arr.flat[:] = [gaussian(a, b) for a, b in zip(re_part.flat, im_part.flat, strict=True)]
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
            arr.flat[:] = [to_exact(v) for v in obj.flat]
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
    """A coefficient as JSON wants it: an int, the string "a/b", or "a+bi" for a Gaussian rational."""
    if isinstance(v, Gaussian):
        return str(v)
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
    if is_complex(arr):
        return None
    out = np.empty(arr.shape, dtype=np.int64)
    for idx, x in enumerate(arr.flat):
        if isinstance(x, Fraction):
            if x.denominator % p == 0:
                return None
            out.flat[idx] = x.numerator * pow(x.denominator, -1, p) % p
        else:
            out.flat[idx] = int(x) % p
    return out
