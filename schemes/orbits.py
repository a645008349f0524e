"""Schemes of <n,n,n> that are invariant under the cyclic symmetry, held as orbits.

With C stored transposed, the tensor of <n,n,n> is unchanged when every term u⊗v⊗w becomes
v⊗w⊗u. A *cyclic* scheme is a union of orbits of that map: an orbit (x, y, z) stands for the
three terms x⊗y⊗z, y⊗z⊗x and z⊗x⊗y. Terms fixed by the map are cubes d⊗d⊗d; Moosbauer and
Poole keep a few of them fixed (diagonal matrices D, one per *cube pattern*, e.g. ``10001``
for D = diag(1,0,0,0,1)) and decompose the rest of the tensor into orbits. This module builds
that starting point exactly and turns orbits back into plain terms.

With the *mirror* (the group Z3×Z2), ρ: (i, j) -> (n-1-i, n-1-j) applied to all three factors
(on a flattened factor: reversing it) also maps the tensor to itself and commutes with the
rotation, and an orbit stands for six terms: its three rotations and their reflections.
"""

from __future__ import annotations

import numpy as np

from .errors import SchemeError
from .scheme import Scheme
from .tensor import matmul_tensor

__all__ = ["default_cubes", "parse_cubes", "cyclic_start", "expand_orbits", "is_cyclic", "is_mirrored"]


def default_cubes(n: int) -> str:
    """Diagonal patterns pairing entry i with entry n-1-i (for n = 5: ``10001,01010,00100``).

    This is the choice Moosbauer and Poole used for <5,5,5>:93; the number of cubes fixes the
    rank modulo 3 (rank = 3 * orbits + cubes).
    """
    rows = []
    for i in range((n + 1) // 2):
        row = ["0"] * n
        row[i] = row[n - 1 - i] = "1"
        rows.append("".join(row))
    return ",".join(rows)


def parse_cubes(text: str, n: int) -> list[tuple[int, ...]]:
    """Diagonal cube patterns from ``10001,01010,00100`` (or ``none``); SchemeError if malformed."""
    text = text.strip()
    if text.lower() in ("none", ""):
        return []
    out = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        if len(part) != n or set(part) - {"0", "1"} or "1" not in part:
            raise SchemeError(
                f"cube pattern {part!r} must be {n} characters of 0/1 with at least one 1 "
                f"(the diagonal of one cube, e.g. {default_cubes(n)})"
            )
        out.append(tuple(int(c) for c in part))
    return out


def _in_domain(residual: np.ndarray, domain: str) -> np.ndarray:
    if domain == "F2":
        return residual % 2
    if domain == "F3":
        r = residual % 3
        return np.where(r == 2, -1, r)
    if np.abs(residual).max(initial=0) > 1:
        raise SchemeError("these cubes leave coefficients outside {-1,0,1}: choose cubes that do not overlap")
    return residual


def cyclic_start(
    n: int, cubes: list[tuple[int, ...]], domain: str, mirror: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(orbits, cubes): a cyclic scheme of <n,n,n> over ``domain`` (F2, F3 or ZT).

    ``orbits`` is (k, 3, n*n): the representatives (x, y, z), each a signed unit vector;
    ``cubes`` is (c, n*n): the diagonal matrices d of the fixed terms d⊗d⊗d. Together they
    decompose the tensor exactly. Over F2 a diagonal entry that no cube covers becomes the orbit
    (e, e, e), three equal terms whose sum is e⊗e⊗e; over F3 and ZT every diagonal entry must
    be covered by exactly one cube. With ``mirror`` every orbit must have six distinct terms,
    which needs cubes that the reflection maps to cubes.
    """
    size = n * n
    tensor = matmul_tensor((n, n, n)).array.astype(np.int64)
    ds = np.zeros((len(cubes), size), dtype=np.int64)
    for c, pattern in enumerate(cubes):
        for i, bit in enumerate(pattern):
            ds[c, i * n + i] = bit
    residual = _in_domain(tensor - np.einsum("ca,cb,cd->abd", ds, ds, ds), domain)
    if mirror and not np.array_equal(residual, residual[::-1, ::-1, ::-1]):
        raise SchemeError("with --symmetry z3xz2 the reflection i -> n+1-i must map the cubes to cubes (e.g. 10001)")
    seen = np.zeros(residual.shape, dtype=bool)
    orbits = []
    for a, b, c in zip(*np.nonzero(residual), strict=True):
        if seen[a, b, c]:
            continue
        coef = int(residual[a, b, c])
        if a == b == c and domain != "F2":
            raise SchemeError(
                f"over {domain} every diagonal entry must lie in exactly one cube "
                f"(entry {a // n + 1}{a % n + 1} does not; e.g. --cubes {default_cubes(n)})"
            )
        images = {(a, b, c), (b, c, a), (c, a, b)}
        if mirror:
            last = size - 1
            images |= {(last - x, last - y, last - z) for x, y, z in images}
            if len(images) < 6:
                raise SchemeError(
                    f"with --symmetry z3xz2 every orbit needs six distinct terms; the term "
                    f"a{a // n + 1}{a % n + 1}*b{b // n + 1}{b % n + 1}*c{c // n + 1}{c % n + 1} has fewer "
                    "(put it in a cube)"
                )
        for x, y, z in images:
            seen[x, y, z] = True
        rep = np.zeros((3, size), dtype=np.int64)
        rep[0, a], rep[1, b], rep[2, c] = coef, 1, 1
        orbits.append(rep)
    return np.array(orbits, dtype=np.int64).reshape(-1, 3, size), ds


def expand_orbits(
    orbits: np.ndarray, cubes: np.ndarray, mirror: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The terms (u, v, w) of a cyclic scheme: three rotations per orbit (six with the mirror),
    one term per cube."""
    x, y, z = (np.asarray(orbits)[:, s] for s in range(3))
    if mirror:
        x, y, z = (np.concatenate([f, f[:, ::-1]]) for f in (x, y, z))
    cubes = np.asarray(cubes)
    u = np.concatenate([x, y, z, cubes])
    v = np.concatenate([y, z, x, cubes])
    w = np.concatenate([z, x, y, cubes])
    return u, v, w


def is_cyclic(scheme: Scheme) -> bool:
    """True when the scheme's multiset of terms is mapped to itself by u⊗v⊗w -> v⊗w⊗u."""
    fmt = scheme.fmt
    if fmt is None or not fmt[0] == fmt[1] == fmt[2]:
        return False
    terms = [tuple(tuple(map(str, f[t])) for f in scheme.factors) for t in range(scheme.rank)]
    rotated = [(v, w, u) for u, v, w in terms]
    return sorted(terms) == sorted(rotated)


def is_mirrored(scheme: Scheme) -> bool:
    """True when the scheme's multiset of terms is mapped to itself by the reflection ρ."""
    if scheme.fmt is None or not scheme.fmt[0] == scheme.fmt[1] == scheme.fmt[2]:
        return False
    terms = [tuple(tuple(map(str, f[t])) for f in scheme.factors) for t in range(scheme.rank)]
    return sorted(terms) == sorted(tuple(f[::-1] for f in t) for t in terms)
