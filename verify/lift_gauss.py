"""Hensel lifting of an F9 = F3[i] scheme to Z_3[i], then rational reconstruction to Q(i).

3 stays prime in Z[i] (-1 is not a square mod 3), so Z[i]/3 is F9 = F3[i] with the same i, and a
scheme valid over F9 (element indices ``3b + a`` = a + b·i, ``schemes/gfq.py``) is a scheme over
Z[i] mod 3: i maps to the square root of -1 of the unramified 3-adic extension Z_3[i]. If the
scheme holds mod 3^k, the residual R = (T - sum u⊗v⊗w) / 3^k reduced mod 3 is a tensor over F9,
and a correction x solving the linearised Brent equations J·x = R over F9 (galois row
reduction; J depends on the scheme mod 3 only) makes it hold mod 3^(k+1) after adding 3^k·x.
Unknowns are first the coefficients that are nonzero mod 3 (the support), then all of them; free
variables stay 0 and digits start balanced (-1, 0, 1), so a scheme that already holds over Z[i]
is kept as it is. After the last step the real and imaginary part of every coefficient is turned
into the fraction a/b with |a|, |b| <= sqrt(3^k / 2) it equals mod 3^k, and the result is
verified exactly over Q(i) (``QI``). Arithmetic mod 3^k is int64 (k <= 12 keeps every sum exact).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from flipforge.schemes import Scheme, SchemeError
from flipforge.schemes.coeffs import gaussian

from .brent import verify
from .lift import _reconstruct

__all__ = ["GaussLift", "lift_f9"]

MAX_STEPS = 12


@dataclass
class GaussLift:
    """The outcome of ``lift_f9``: ``scheme`` is set (verified over Q(i)) when ``lifted``."""

    lifted: bool
    scheme: Scheme | None
    steps: int
    seconds: float
    reason: str | None = None


def _product(parts: list[tuple[np.ndarray, np.ndarray]], mod: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary part of sum u⊗v⊗w mod ``mod`` (each product reduced: no int64 overflow)."""
    (ur, ui), (vr, vi), (wr, wi) = parts
    r = ur.shape[0]
    shape = (ur.shape[1], vr.shape[1], wr.shape[1])
    vw_re = (vr[:, :, None] * wr[:, None, :] - vi[:, :, None] * wi[:, None, :]).reshape(r, -1) % mod
    vw_im = (vr[:, :, None] * wi[:, None, :] + vi[:, :, None] * wr[:, None, :]).reshape(r, -1) % mod
    re = (ur.T @ vw_re - ui.T @ vw_im) % mod
    im = (ur.T @ vw_im + ui.T @ vw_re) % mod
    return re.reshape(shape), im.reshape(shape)


def _jacobian(idx: list[np.ndarray], unknowns: list[tuple[int, int, int]], shape: tuple[int, int, int]) -> np.ndarray:
    """J over F9 (element indices): column of unknown (term, slot, entry) = the rank-one change."""
    from flipforge.schemes.gfq import tables

    _, mul, _, _ = tables(9)
    rows = shape[0] * shape[1] * shape[2]
    jac = np.zeros((rows, len(unknowns)), dtype=np.int64)
    for col, (t, s, e) in enumerate(unknowns):
        others = [idx[k][t] for k in range(3) if k != s]
        block = mul[others[0][:, None], others[1][None, :]]  # the other two factors' outer product
        full = np.zeros(shape, dtype=np.int64)
        if s == 0:
            full[e, :, :] = block
        elif s == 1:
            full[:, e, :] = block
        else:
            full[:, :, e] = block
        jac[:, col] = full.reshape(-1)
    return jac


def _solve(jac: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """A solution of jac·x = rhs over F9 (free variables 0), or None."""
    from flipforge.schemes.gfq import field

    gf = field(9, jit=True)
    aug = gf(np.hstack([jac, rhs[:, None]])).row_reduce()
    red = aug.view(np.ndarray)
    x = np.zeros(jac.shape[1], dtype=np.int64)
    for row in red:
        nz = np.flatnonzero(row)
        if nz.size == 0:
            continue
        if nz[0] == jac.shape[1]:
            return None  # 0 = nonzero: inconsistent
        x[nz[0]] = row[-1]
    return x


def lift_f9(scheme: Scheme, steps: int = 10) -> GaussLift:
    """Lift a scheme valid over F9 to Q(i) (see the module docstring); ``steps`` Hensel steps, at most 12."""
    t0 = time.perf_counter()
    if not 1 <= steps <= MAX_STEPS:
        raise SchemeError(f"steps must be from 1 to {MAX_STEPS}, not {steps}")
    start = verify(scheme, "F9")
    if not start.valid:
        return GaussLift(False, None, 0, time.perf_counter() - t0, f"not valid over F9: {start.summary()}")
    idx = [np.asarray(a, dtype=np.int64) for a in scheme.factors]
    # element 3b + a -> a + b i with balanced digits (2 -> -1): an exact Z[i] scheme stays as it is
    parts = [((a % 3 + 1) % 3 - 1, (a // 3 + 1) % 3 - 1) for a in idx]
    target = scheme.tensor.array.astype(np.int64)
    shape = target.shape
    support = [(t, s, e) for s in range(3) for t in range(scheme.rank) for e in np.flatnonzero(idx[s][t])]
    everything = [(t, s, e) for s in range(3) for t in range(scheme.rank) for e in range(idx[s].shape[1])]
    systems: list[tuple[list, np.ndarray | None]] = [(support, None), (everything, None)]  # J built when needed
    power = 3  # the scheme holds mod power = 3^k
    for k in range(1, steps):
        mod = power * 3
        re, im = _product(parts, mod)
        res_re, res_im = (target - re) % mod, (-im) % mod
        if np.any(res_re % power) or np.any(res_im % power):
            raise AssertionError("lift_f9: the scheme left the residue class it was lifted in")
        rhs = ((res_re // power) % 3 + 3 * ((res_im // power) % 3)).reshape(-1)
        if not rhs.any():
            power *= 3
            continue
        found = None
        for n, (unknowns, jac) in enumerate(systems):
            if jac is None:
                jac = _jacobian(idx, unknowns, shape)
                systems[n] = (unknowns, jac)
            x = _solve(jac, rhs)
            if x is not None:
                found = (unknowns, x)
                break
        if found is None:
            why = f"step {k}: the linearised Brent equations over F9 have no solution (the scheme does not lift)"
            return GaussLift(False, None, k, time.perf_counter() - t0, why)
        for (t, s, e), val in zip(*found, strict=True):
            if val:
                parts[s][0][t, e] += power * (val % 3)
                parts[s][1][t, e] += power * (val // 3)
        power *= 3
    mod = power
    out = []
    for re_part, im_part in parts:
        arr = np.empty(re_part.shape, dtype=object)
        for pos, (a, b) in enumerate(zip(re_part.flat, im_part.flat, strict=True)):
            qa, qb = _reconstruct(int(a) % mod, mod), _reconstruct(int(b) % mod, mod)
            if qa is None or qb is None:
                why = f"no small fraction equals a coefficient mod 3^{steps} (try more steps)"
                return GaussLift(False, None, steps, time.perf_counter() - t0, why)
            arr.flat[pos] = gaussian(qa, qb)
        out.append(arr)
    lifted = Scheme.from_arrays(scheme.tensor, *out, "QI", meta={**scheme.meta, "lifted_from": "F9"})
    res = verify(lifted, "QI")
    if not res.valid:
        why = f"the reconstructed scheme is not valid over Q(i) ({res.summary()}); try more steps"
        return GaussLift(False, None, steps, time.perf_counter() - t0, why)
    return GaussLift(True, lifted, steps, time.perf_counter() - t0)
