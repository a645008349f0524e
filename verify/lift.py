"""Hensel lifting of a scheme valid mod p to Z or Q, with rational reconstruction.

A scheme (U, V, W) valid mod p is corrected step by step: if it is valid mod p^k, the residual
R = (T - sum u⊗v⊗w) / p^k is an integer tensor and a correction (dU, dV, dW) solving the
linearised Brent equations  J · (dU, dV, dW) = R  (mod p)  makes it valid mod p^(k+1). The
Jacobian J mod p depends only on the scheme mod p, so it is reduced to echelon form once
(``schemes.linalg.Solver``) and every step is a cheap replay on the new right-hand side.

First only the coefficients that are nonzero mod p are unknowns (the support is kept), which
removes most of the freedom; if that system has no solution, every coefficient becomes an
unknown (a 0 mod 2 may become 2), support first. Free variables keep their starting values, so
the lifted p-adic point is pinned by small integers. After the last step every coefficient is turned into
the fraction a/b with |a|, |b| <= sqrt(p^k / 2) that it equals mod p^k (rational
reconstruction) and the result is verified exactly. When a step's system has no solution the
scheme does not lift with this support, and the result says at which step.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from flipforge.schemes import Domain, Scheme, SchemeError
from flipforge.schemes.coeffs import residues
from flipforge.schemes.linalg import Solver
from flipforge.schemes.metrics import coefficient_class

from .brent import verify

__all__ = ["LiftResult", "lift", "max_steps", "MAX_ATTEMPTS"]

_MAX_MODULUS = 1 << 26  # keeps every product of two residues times the rank inside int64
MAX_ATTEMPTS = 1000  # orders of the unknowns a lift may try


def max_steps(p: int) -> int:
    """The most Hensel steps mod ``p`` that stay inside int64 arithmetic (0 when p is too large)."""
    return int(math.log(_MAX_MODULUS) / math.log(p)) if p >= 2 else 0


@dataclass
class LiftResult:
    """The outcome of a lift; ``scheme`` is set (and verified) when ``lifted``."""

    lifted: bool
    scheme: Scheme | None
    domain: str | None
    steps: int
    seconds: float
    reason: str | None = None
    attempts: int = 1

    def as_dict(self) -> dict:
        return {
            "lifted": self.lifted,
            "domain": self.domain,
            "rank": self.scheme.rank if self.scheme is not None else None,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "attempts": self.attempts,
            "reason": self.reason,
        }


def _jacobian(u: np.ndarray, v: np.ndarray, w: np.ndarray, unknowns: list[tuple[int, int, int]]) -> np.ndarray:
    """Column per unknown (factor f, term t, index i): the derivative of sum u⊗v⊗w."""
    shape = (u.shape[1], v.shape[1], w.shape[1])
    jac = np.zeros((shape[0] * shape[1] * shape[2], len(unknowns)), dtype=np.int64)
    for col, (f, t, i) in enumerate(unknowns):
        if f == 0:
            block = np.zeros(shape, dtype=np.int64)
            block[i] = np.outer(v[t], w[t])
        elif f == 1:
            block = np.zeros(shape, dtype=np.int64)
            block[:, i] = np.outer(u[t], w[t])
        else:
            block = np.zeros(shape, dtype=np.int64)
            block[:, :, i] = np.outer(u[t], v[t])
        jac[:, col] = block.ravel()
    return jac


def _product_mod(u: np.ndarray, v: np.ndarray, w: np.ndarray, mod: int) -> np.ndarray:
    vw = (v[:, :, None] * w[:, None, :] % mod).reshape(u.shape[0], -1)
    return (u.T @ vw % mod).reshape(u.shape[1], v.shape[1], w.shape[1])


def _reconstruct(x: int, mod: int) -> Fraction | None:
    """a/b = x mod ``mod`` with |a|, |b| <= sqrt(mod/2), or None (Wang's algorithm)."""
    bound = math.isqrt(mod // 2)
    r0, r1, s0, s1 = mod, x % mod, 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1, s0, s1 = r1, r0 - q * r1, s1, s0 - q * s1
    if abs(s1) > bound or s1 == 0 or math.gcd(r1, abs(s1)) != 1:
        return None
    return Fraction(r1, s1)


Step = tuple[Scheme | None, int, str | None, bool]  # (scheme, step, reason, the linear system failed)


def _lift_steps(
    scheme: Scheme,
    p: int,
    steps: int,
    order: np.ndarray,
    full: bool = False,
    on_step: Callable[[], None] | None = None,
) -> Iterator[Step]:
    """Lift step by step; after steps 4, 8, 16, ... and the last, yield the reconstructed scheme
    (or None and a reason). Stops after a yield with a reason that no later step can change."""
    res = [residues(a, p) for a in scheme.factors]
    if any(r is None for r in res):
        yield None, 0, f"a coefficient has a denominator divisible by {p}", False
        return
    # symmetric representatives: p-1 -> -1 keeps the starting integers small
    u, v, w = (np.where(r > p // 2, r - p, r).astype(np.int64) for r in res)  # type: ignore[union-attr]
    unknowns = [(f, t, i) for f, a in enumerate((u, v, w)) for t, i in zip(*np.nonzero(a), strict=True)]
    unknowns = [unknowns[k] for k in order if k < len(unknowns)]
    if full:  # positions that are 0 mod p may become multiples of p (e.g. a coefficient 2 over F2)
        unknowns += [(f, t, i) for f, a in enumerate((u, v, w)) for t, i in zip(*np.nonzero(a == 0), strict=True)]
    jac = _jacobian(u, v, w, unknowns)
    ech = Solver(jac, p)  # bit-packed over F2, recorded int64 row operations mod an odd p
    target = scheme.tensor.array.astype(np.int64)
    mod = p
    for k in range(1, steps + 1):
        nxt = mod * p
        resid = (target - _product_mod(u, v, w, nxt)) % nxt
        if np.any(resid % mod):
            yield None, k, f"internal error: not valid mod {p}^{k}", False
            return
        x = ech.solve((resid // mod).ravel())
        if x is None:
            yield None, k, f"the linear system at step {k} has no solution", True
            return
        for (f, t, i), val in zip(unknowns, x, strict=True):
            if val:
                (u, v, w)[f][t, i] = ((u, v, w)[f][t, i] + mod * int(val)) % nxt
        mod = nxt
        if on_step is not None:
            on_step()
        if k == steps or (k >= 4 and k & (k - 1) == 0):
            yield _reconstructed(scheme, (u, v, w), mod), k, None, False


def _reconstructed(scheme: Scheme, factors: tuple[np.ndarray, ...], mod: int) -> Scheme | None:
    out = []
    cache: dict[int, Fraction | None] = {}
    for a in factors:
        arr = np.empty(a.shape, dtype=object)
        for idx, val in np.ndenumerate(a):
            val = int(val) % mod
            if val not in cache:
                cache[val] = _reconstruct(val, mod)
            if cache[val] is None:
                return None
            arr[idx] = cache[val]
        out.append(arr)
    return Scheme.from_arrays(scheme.tensor, *out, None, dict(scheme.meta))


def lift(
    scheme: Scheme,
    to: str = "Q",
    steps: int | None = None,
    attempts: int = 8,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> LiftResult:
    """Lift a scheme valid over F_p (its claimed domain, any prime p < 2^26) to ``to`` (ZT, Z or Q).

    Tries the natural order of unknowns first, then ``attempts - 1`` random orders (other free
    variables), and returns the first lift that verifies exactly in the target domain.
    ``progress(attempt)``, when given, is called after every Hensel step of that attempt.
    """
    t0 = time.perf_counter()
    goal = Domain.parse(to).name
    if goal not in ("ZT", "Z", "Q"):
        raise SchemeError(f"lift targets ZT, Z or Q, not {goal}")
    if not _is_int(attempts) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise SchemeError(f"--attempts must be from 1 to {MAX_ATTEMPTS}, not {attempts}")
    if steps is not None and (not _is_int(steps) or steps < 1):
        raise SchemeError(f"--steps must be at least 1, not {steps}")
    dom = scheme.domain
    if dom is None or dom.p is None:
        raise SchemeError("lifting starts from a scheme over a prime field F_p (claim F2, F3, F5, ... or use --domain)")
    p = dom.p
    most = max_steps(p)
    if most < 1:
        raise SchemeError(f"F{p} is too large to lift from: one step mod {p} leaves int64 (use a p below 2^26)")
    k = steps or most
    if k > most:
        raise SchemeError(f"--steps {k} is too many for p = {p} (at most {most})")
    if not verify(scheme, dom).valid:
        raise SchemeError(f"the scheme is not valid over {dom}; nothing to lift")
    nvars = sum(int(np.count_nonzero(residues(a, p))) for a in scheme.factors)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    reason = ""
    full = False
    for attempt in range(1, attempts + 1):
        order = np.arange(nvars) if attempt == 1 else rng.permutation(nvars)
        stuck_at = None
        on_step = None if progress is None else functools.partial(progress, attempt)
        for lifted, done, why, unsolvable in _lift_steps(scheme, p, k, order, full, on_step):
            if unsolvable:
                stuck_at = done
            if lifted is None:
                reason = why or (
                    f"rational reconstruction failed after {done} steps "
                    f"(coefficients too large, or the {p}-adic solution is not rational)"
                )
                continue
            found = coefficient_class(lifted)
            for name in ("ZT", "Z", "Q"):
                if _rank_of(found) <= _rank_of(name) <= _rank_of(goal) and verify(lifted, name).valid:
                    result = lifted.with_domain(name).with_meta(lifted_from=str(dom), lift_steps=done)
                    return LiftResult(True, result, name, done, time.perf_counter() - t0, None, attempt)
            if verify(lifted, "Q").valid:
                reason = f"the lift holds over {found}, not {goal}"
            else:
                reason = f"after {done} steps the reconstructed coefficients do not satisfy the Brent equations"
        if stuck_at is None:
            continue
        if not full:
            full = True  # let coefficients that are 0 mod p move too
            reason += " (not liftable with its support)"
        elif stuck_at == 1:  # step 1 does not depend on earlier choices: no order can help
            reason += ", even with every coefficient free: the scheme does not lift"
            break
        # a later step failed: other free-variable choices (orders) may still lift it
    return LiftResult(False, None, None, k, time.perf_counter() - t0, reason or None, attempt)


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _rank_of(name: str) -> int:
    return {"ZT": 0, "Z": 1, "Q": 2}[name]
