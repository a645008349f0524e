"""Real-valued decompositions driven to a lattice and rounded (the numeric searcher's engine).

One *attempt* starts from random real factors U (r, I), V (r, J), W (r, K) and fits
Σ_t u_t⊗v_t⊗w_t = T by Levenberg–Marquardt (the normal equations JᵀJ, Jᵀf are built from the
r×r Gram matrices of the factors, never from the dense Jacobian). While fitting and sparsifying,
a small norm penalty RIDGE·‖x‖² keeps the factors bounded and the terms' scales balanced (no
degenerate, nearly cancelling terms) until the residual is small. The first fit may instead run
by alternating least squares (``fit="als"``: each factor solved for with the other two fixed,
a penalty that fades with the residual) and hand over to LM once the residual is small; a sweep
is far cheaper than an LM iteration, so more starts reach a fit per second on small formats.
After an exact real fit the smallest entries (relative to their term's factor) are fixed to
zero batch by batch, then the rest to the coefficient lattice (``Lattice``: {-1,0,1}, the
integers up to a bound, or multiples of 1/d), each followed by a refit. Whenever the rounded factors may hold, they are
checked exactly in integers; an almost-valid rounding is *repaired*: two factors are kept and
the third is solved for exactly over Q (a linear system), then put back on the lattice. With
``lift_to`` set (the run's ring), a rounding that is still wrong gets two more tries: a greedy
local repair (one coefficient at a time, to the lattice value that shrinks the integer residual
most), and *modular lifting*: the rounding (as it is, locally repaired, unclipped, and, on an
integer lattice, rounded to halves) is reduced mod 2 and mod 3; a reduction that is a valid
scheme over F_p is Hensel-lifted (``verify/lift.py``) to the ring and kept only when the lift
verifies exactly. Everything here is numpy; the caller proves what it reports again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from flipforge.schemes import Domain, Scheme, Tensor, linalg

__all__ = ["Lattice", "Attempt", "exact_factors", "solve_factor", "local_repair", "modular_repair"]

FIT_TOL = 1e-6  # squared residual of a real fit taken as converged (exactness is checked in integers)
QUANT_TOL = 0.02  # squared residual of the rounding (per entry of T) below which repair is tried
RIDGE = 1e-3  # weight of the penalty RIDGE·‖x‖² while fitting and sparsifying (keeps factors bounded)
RIDGE_OFF = 1e-3  # squared residual below which the penalty is dropped, so the fit can become exact
MAX_SOLVE_ENTRIES = 4_000_000  # the largest exact repair system (rows x columns) tried
STALL_EVERY = 25  # the first fit gives up when a stretch of this many iterations gained under 10 %
LOCAL_STEPS = 8  # single-coefficient changes a local repair makes at most
LIFT_PRIMES = (2, 3)  # reductions tried by the modular repair (those not dividing the denominator)
LIFT_ATTEMPTS = 4  # orders of the unknowns one lift tries (``verify.lift.lift``)
ALS_SWEEPS = 10  # alternating-least-squares sweeps in one iteration of an ALS first fit
ALS_RIDGE = 1e-2  # weight of the ALS penalty (times the residual once that is below 1)
ALS_HANDOFF = 1e-2  # squared residual below which an ALS first fit goes on by LM (ALS converges slowly there)
FITS = ("lm", "als")  # how the first fit runs (sparsifying and refits are Levenberg-Marquardt)


@dataclass(frozen=True)
class Lattice:
    """The coefficients a result may have: multiples of 1/``denominator`` with |x| <= ``bound``."""

    denominator: int = 1
    bound: int = 1

    def round(self, x: np.ndarray) -> np.ndarray:
        """The nearest lattice point of every entry (as floats)."""
        d = self.denominator
        return np.clip(np.rint(x * d), -self.bound * d, self.bound * d) / d

    def numerators(self, x: np.ndarray) -> np.ndarray:
        """Integer numerators over ``denominator`` of the nearest lattice points."""
        d = self.denominator
        return np.clip(np.rint(x * d), -self.bound * d, self.bound * d).astype(np.int64)


def reconstruct(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ_t u_t ⊗ v_t ⊗ w_t (any dtype that numpy multiplies)."""
    return np.einsum("ti,tj,tk->ijk", u, v, w)


def exact_factors(
    tensor: np.ndarray, u: np.ndarray, v: np.ndarray, w: np.ndarray, denominator: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Integer numerators (terms with a zero factor dropped) when they decompose ``tensor`` exactly."""
    keep = np.any(u != 0, axis=1) & np.any(v != 0, axis=1) & np.any(w != 0, axis=1)
    u, v, w = u[keep], v[keep], w[keep]
    if max(np.abs(u).max(initial=0), np.abs(v).max(initial=0), np.abs(w).max(initial=0)) > 2**20:
        return None  # int64 products could overflow
    if np.array_equal(reconstruct(u, v, w), tensor.astype(np.int64) * denominator**3):
        return u, v, w
    return None


def solve_factor(
    tensor: np.ndarray, fixed: tuple[np.ndarray, np.ndarray], role: int, lattice: Lattice
) -> np.ndarray | None:
    """The third factor (numerators over ``lattice.denominator``) that makes the scheme exact, given
    the other two as numerators over the same denominator; solved exactly over Q, None when there is
    none on the lattice. ``role`` 0, 1, 2 is the slot (u, v, w) being solved for. Solved modulo a
    large prime and checked in exact integers (``linalg.integer_solve``)."""
    d = lattice.denominator
    t = np.moveaxis(tensor.astype(np.int64), role, 2)  # the solved slot last
    a, b = fixed  # the two other factors in slot order
    mat = np.einsum("ti,tj->ijt", a, b).reshape(-1, a.shape[0])  # columns: u_t ⊗ v_t (scaled d^2)
    rhs = t.reshape(-1, t.shape[2]) * d**3  # the solved factor is scaled by d too
    if mat.shape[0] * (mat.shape[1] + rhs.shape[1]) > MAX_SOLVE_ENTRIES:
        return None
    return linalg.integer_solve(mat, rhs, lattice.bound * d)


def _residual(tensor: np.ndarray, nums: list[np.ndarray], denominator: int) -> np.ndarray:
    """Σ u⊗v⊗w − T in integers, everything scaled by ``denominator``³."""
    return reconstruct(*nums) - tensor.astype(np.int64) * denominator**3


def local_repair(
    tensor: np.ndarray, nums: list[np.ndarray], lattice: Lattice, steps: int = LOCAL_STEPS
) -> list[np.ndarray]:
    """Greedy descent on the exact integer residual: up to ``steps`` times, change the one
    coefficient (to the lattice value) that lowers ‖Σ u⊗v⊗w − T‖² most; stops when no single
    change helps. Returns the changed numerators (over ``lattice.denominator``), a valid scheme
    exactly when the residual reached zero. A rounding is often wrong in a few Brent equations
    that only a few coefficients touch; this fixes those cheaply."""
    nums = [np.array(a, dtype=np.int64) for a in nums]
    top = lattice.bound * lattice.denominator
    values = np.arange(-top, top + 1, dtype=np.int64)
    resid = _residual(tensor, nums, lattice.denominator)
    for _ in range(steps):
        if not resid.any():
            break
        best = (0, -1, 0, 0, 0)  # (change of ‖R‖², slot, term, index, new value)
        for slot in range(3):
            a, b = (nums[q] for q in range(3) if q != slot)
            moved = np.moveaxis(resid, slot, 0)  # (index of the slot, the other two)
            dot = np.einsum("ijk,tj,tk->ti", moved, a, b)  # <R_i, a_t ⊗ b_t>
            norm = (a * a).sum(axis=1) * (b * b).sum(axis=1)  # ‖a_t ⊗ b_t‖²
            delta = values[None, None, :] - nums[slot][:, :, None]
            change = 2 * delta * dot[:, :, None] + delta * delta * norm[:, None, None]
            t, i, c = np.unravel_index(int(np.argmin(change)), change.shape)
            if change[t, i, c] < best[0]:
                best = (int(change[t, i, c]), slot, int(t), int(i), int(values[c]))
        gain, slot, t, i, value = best
        if slot < 0:
            break
        a, b = (nums[q] for q in range(3) if q != slot)
        np.moveaxis(resid, slot, 0)[i] += (value - nums[slot][t, i]) * np.outer(a[t], b[t])
        nums[slot][t, i] = value
    return nums


def modular_repair(
    tensor: np.ndarray, nums: list[np.ndarray], denominator: int, ring: str, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int] | None:
    """Reduce the rounded scheme (numerators over ``denominator``) mod 2 and mod 3 (primes that
    do not divide the denominator); when a reduction is a valid scheme over F_p, Hensel-lift it
    to ``ring`` (ZT, Z or Q) and return the lift as (numerators, their common denominator), after
    an exact integer check. None when no reduction holds or none lifts. A rounding with wrong
    signs or a few coefficients off by a multiple of p still holds mod p, and the lift moves
    exactly those coefficients by multiples of p."""
    from flipforge.verify import verify
    from flipforge.verify.lift import lift

    exact = tensor.astype(np.int64)
    for p in LIFT_PRIMES:
        if denominator % p == 0:
            continue
        inv = pow(denominator, -1, p)
        red = [np.asarray(a, dtype=np.int64) % p * inv % p for a in nums]
        if np.any((reconstruct(*red) - exact) % p):
            continue
        red = [np.where(a > p // 2, a - p, a) for a in red]  # -1 rather than p - 1
        scheme = Scheme(Tensor("numeric", exact), *red, Domain.parse(f"F{p}"))
        result = lift(scheme, ring, attempts=LIFT_ATTEMPTS, seed=seed)
        if not result.lifted or result.scheme is None or not verify(result.scheme, ring).valid:
            continue
        scaled = result.scheme.scaled  # (integer numerators, denominator) per factor
        common = math.lcm(*(d for _, d in scaled))
        lifted = [np.asarray(n, dtype=object) * (common // d) for n, d in scaled]
        if max(int(np.abs(a).max(initial=0)) for a in lifted) > 2**20:
            continue
        found = exact_factors(exact, *(a.astype(np.int64) for a in lifted), common)
        if found is not None:
            return found, common
    return None


def _gradient_and_gram(factors: list[np.ndarray], residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jᵀf and JᵀJ of f = Σ u⊗v⊗w − T with respect to all entries of u, v, w (slot order), built
    from the r×r Gram matrices of the factors instead of the (I·J·K)-row Jacobian."""
    u, v, w = factors
    r, i = u.shape
    j, k = v.shape[1], w.shape[1]
    gu, gv, gw = u @ u.T, v @ v.T, w @ w.T
    kvw = (v[:, :, None] * w[:, None, :]).reshape(r, j * k)
    kuw = (u[:, :, None] * w[:, None, :]).reshape(r, i * k)
    kuv = (u[:, :, None] * v[:, None, :]).reshape(r, i * j)
    grad = np.concatenate(
        [
            (kvw @ residual.reshape(i, -1).T).ravel(),
            (kuw @ residual.transpose(1, 0, 2).reshape(j, -1).T).ravel(),
            (kuv @ residual.transpose(2, 0, 1).reshape(k, -1).T).ravel(),
        ]
    )
    a, b = r * i, r * (i + j)
    n = b + r * k
    h = np.empty((n, n))
    h[:a, :a] = np.einsum("ts,ab->tasb", gv * gw, np.eye(i)).reshape(a, a)
    h[a:b, a:b] = np.einsum("ts,ab->tasb", gu * gw, np.eye(j)).reshape(b - a, b - a)
    h[b:, b:] = np.einsum("ts,ab->tasb", gu * gv, np.eye(k)).reshape(n - b, n - b)
    h[:a, a:b] = np.einsum("ts,sa,tb->tasb", gw, u, v).reshape(a, b - a)
    h[:a, b:] = np.einsum("ts,sa,tc->tasc", gv, u, w).reshape(a, n - b)
    h[a:b, b:] = np.einsum("ts,sb,tc->tbsc", gu, v, w).reshape(b - a, n - b)
    h[a:b, :a] = h[:a, a:b].T
    h[b:, :a] = h[:a, b:].T
    h[b:, a:b] = h[a:b, b:].T
    return grad, h


class Attempt:
    """One random start: fit by Levenberg–Marquardt, then sparsify and round.

    The first fit gives up after ``fit_iterations`` or as soon as it stalls. After an exact real
    fit, the smallest free entries (relative to the largest entry of their term's factor) are
    set to zero a batch at a time (a ``prune`` share of the free entries, at least one) and the
    rest refit; when a refit cannot
    get the residual back under ``FIT_TOL`` the batch is undone and halved, and a batch of one
    that fails ends the attempt. Each term is rescaled so its u and v have largest entry 1, and
    after every successful refit the rounding to the lattice (and its repair) is checked exactly.
    ``advance(iterations)`` runs at most that many LM iterations and returns exact integer
    numerators (u, v, w over ``self.denominator``: the lattice's, or a lift's) when the attempt
    produced a valid scheme. With ``lift_to`` (ZT, Z or Q) a rounding that the exact solve does not
    mend gets the local and modular repairs (``repair``).
    """

    def __init__(
        self,
        tensor: np.ndarray,
        rank: int,
        lattice: Lattice,
        rng: np.random.Generator,
        fit_iterations: int,
        refit_iterations: int,
        prune: float,
        retries: int = 3,
        penalty: float = RIDGE,
        lift_to: str | None = None,
        stall: int = STALL_EVERY,
        fit: str = "lm",
    ) -> None:
        if fit not in FITS:
            raise ValueError(f"fit must be one of {', '.join(FITS)}, not {fit!r}")
        self.fit = fit
        self.tensor = tensor.astype(np.float64)
        self.unfolded = [np.moveaxis(self.tensor, m, 0).reshape(n, -1) for m, n in enumerate(tensor.shape)]
        self.exact_tensor = tensor.astype(np.int64)
        self.lattice = lattice
        self.shapes = [(rank, n) for n in tensor.shape]
        self.x = rng.normal(0.0, 1.0, sum(r * n for r, n in self.shapes))
        self.free = np.ones(self.x.size, dtype=bool)
        self.banned = np.zeros(self.x.size, dtype=bool)  # single entries whose fix just failed
        self.fit_iterations, self.refit_iterations, self.prune = fit_iterations, refit_iterations, prune
        self.retries, self.penalty = retries, penalty
        self.stall = stall  # the first fit ends when a stretch of this many iterations gained under 10 %
        self.iterations = 0
        self.since = 0  # iterations of the current fit or refit
        self.damping = 1e-3
        self.batch = 0  # entries zeroed by the refit in progress (0: the first fit)
        self.saved = self.x.copy()  # the point before the batch in progress
        self.phase = 0  # 0: fitting, 1: sparsifying, 3: fixing integers, 4: fixing fractions, 2: ended
        self.residual = self._cost(self.x)
        self.mark = self.residual  # the residual at the last stall check of the first fit
        self.reached = False  # an exact real fit was reached
        self.lift_to = lift_to  # the ring of the local and modular repairs (None: they are off)
        self.denominator = lattice.denominator  # of the numerators the last success returned
        self.repairs = 0  # successes that came from the local or modular repair

    @property
    def done(self) -> bool:
        return self.phase == 2

    @property
    def fitted(self) -> bool:
        """True once the attempt reached an exact real fit (it got past the first phase)."""
        return self.reached

    def state(self) -> dict:
        """Plain data to continue exactly."""
        numbers = [self.iterations, self.since, self.damping, self.batch, self.phase, self.residual, self.mark]
        numbers.append(int(self.reached))
        masks = {"free": self.free.copy(), "banned": self.banned.copy()}
        return {"x": self.x.copy(), "saved": self.saved.copy(), **masks, "numbers": numbers}

    def set_state(self, state: dict) -> None:
        self.x = np.array(state["x"], dtype=np.float64)
        self.free = np.array(state["free"], dtype=bool)
        self.banned = np.array(state["banned"], dtype=bool)
        self.saved = np.array(state["saved"], dtype=np.float64)
        numbers = [float(v) for v in state["numbers"]]
        if len(numbers) == 6:  # a state written before the stall check and the fit flag
            numbers += [numbers[5], float(numbers[4] != 0)]
        it, since, self.damping, batch, phase, self.residual, self.mark, reached = numbers
        self.iterations, self.since, self.batch, self.phase = int(it), int(since), int(batch), int(phase)
        self.reached = bool(reached)

    def factors(self, x: np.ndarray | None = None) -> list[np.ndarray]:
        x = self.x if x is None else x
        out, at = [], 0
        for r, n in self.shapes:
            out.append(x[at : at + r * n].reshape(r, n))
            at += r * n
        return out

    def _cost(self, x: np.ndarray) -> float:
        diff = reconstruct(*self.factors(x)) - self.tensor
        return float(np.sum(diff * diff))

    def _lm(self) -> None:
        """One Levenberg–Marquardt iteration on the free entries."""
        factors = self.factors()
        grad, jtj = _gradient_and_gram(factors, reconstruct(*factors) - self.tensor)
        grad, jtj = grad[self.free], jtj[np.ix_(self.free, self.free)]
        ridge = self._ridge()
        if ridge:
            grad = grad + ridge * self.x[self.free]
            jtj[np.diag_indices_from(jtj)] += ridge
        current = self.residual + ridge * float(self.x @ self.x)
        diag = jtj.diagonal().copy()
        for _ in range(8):
            a = jtj.copy()
            a[np.diag_indices_from(a)] += self.damping * (diag + 1e-9)
            try:
                step = np.linalg.solve(a, -grad)
            except np.linalg.LinAlgError:
                self.damping *= 4
                continue
            trial = self.x.copy()
            trial[self.free] += step
            cost = self._cost(trial)
            if cost + ridge * float(trial @ trial) < current:
                self.x, self.residual = trial, cost
                self.damping = max(self.damping / 3, 1e-12)
                return
            self.damping *= 4
        self.damping = min(self.damping, 1e8)

    def _als(self) -> None:
        """``ALS_SWEEPS`` sweeps of alternating least squares (each factor solved for exactly with
        the other two fixed, penalty λ·‖x‖² with λ = ``ALS_RIDGE``·min(1, residual), so the penalty
        fades as the fit nears an exact one).
        A sweep costs three r×r solves where an LM iteration solves for every entry at once, so a
        first fit by ALS tries far more points per second; its slow final convergence is left to LM."""
        factors = self.factors()  # views into self.x: solved in place
        rank = factors[0].shape[0]
        for _ in range(ALS_SWEEPS):
            ridge = ALS_RIDGE * min(1.0, self.residual) * np.eye(rank)
            for slot in range(3):
                a, b = (factors[q] for q in range(3) if q != slot)
                gram = (a @ a.T) * (b @ b.T) + ridge
                khatri_rao = (a[:, :, None] * b[:, None, :]).reshape(rank, -1)
                factors[slot][:] = np.linalg.solve(gram, khatri_rao @ self.unfolded[slot].T)
            self.residual = self._cost(self.x)

    def _ridge(self) -> float:
        """The norm penalty's weight: on while fitting and sparsifying and the residual is not yet
        small. It keeps the factors bounded (no nearly cancelling terms with huge entries) and the
        terms' scales balanced; fixing to the lattice (phases 3, 4) refits without it."""
        return self.penalty if self.phase <= 1 and self.residual > RIDGE_OFF else 0.0

    def _normalise(self) -> None:
        """Scale each term so that u and v have largest entry 1 (w takes the product)."""
        u, v, w = self.factors()
        for f in (u, v):
            peak = np.abs(f).max(axis=1)
            peak[peak == 0] = 1.0
            f /= peak[:, None]
            w *= peak[:, None]

    def _zero_batch(self) -> bool:
        """Fix the next ``batch`` free entries: the smallest to zero while sparsifying (phase 1),
        then those nearest to a lattice point at that point (phase 3); False when none is free."""
        idx = np.flatnonzero(self.free & ~self.banned)
        if idx.size == 0:
            return False
        self.saved = self.x.copy()
        vals = self.x[idx]
        scale = np.ones_like(vals)
        if self.phase == 1:  # relative to the largest entry of the entry's factor of its term
            peaks = np.concatenate([np.repeat(np.abs(f).max(axis=1), f.shape[1]) for f in self.factors()])
            scale = np.maximum(peaks[idx], 1e-12)
        if self.phase >= 3:  # integers first (phase 3), then the lattice's fractions (phase 4)
            d = 1 if self.phase == 3 else self.lattice.denominator
            goal = np.rint(vals * d) / d
            goal[goal == 0] = np.sign(vals[goal == 0]) / d
            goal = np.clip(goal, -self.lattice.bound, self.lattice.bound)
        else:
            goal = np.zeros_like(vals)
        order = np.argsort(np.abs(vals - goal) / scale)[: self.batch]
        self.x[idx[order]] = goal[order]
        self.free[idx[order]] = False
        self.residual = self._cost(self.x)
        self.since = 0
        self.damping = 1e-3
        return True

    def _undo_batch(self) -> None:
        """Free the entries of the batch that failed again (a failed single entry is banned for now)."""
        changed = (self.x != self.saved) & ~self.free
        self.x = self.saved.copy()
        self.free[changed] = True
        if self.batch == 1:
            self.banned |= changed
        self.residual = self._cost(self.x)

    def _rounded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Exact numerators when the rounding (or a repair of it) is a valid scheme."""
        real = self.factors()
        nums = [self.lattice.numerators(f) for f in real]
        found = exact_factors(self.exact_tensor, *nums, self.lattice.denominator)
        if found is not None:
            return found
        rounded = [self.lattice.round(f) for f in real]
        diff = reconstruct(*rounded) - self.tensor
        if float(np.sum(diff * diff)) <= QUANT_TOL * self.tensor.size:
            for role in (2, 1, 0):
                others = tuple(nums[q] for q in range(3) if q != role)
                solved = solve_factor(self.exact_tensor, others, role, self.lattice)  # type: ignore[arg-type]
                if solved is None:
                    continue
                trial = list(nums)
                trial[role] = solved
                found = exact_factors(self.exact_tensor, *trial, self.lattice.denominator)
                if found is not None:
                    return found
        return None if self.lift_to is None else self.repair(self.lift_to)

    def repair(self, ring: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The local and modular repairs of the current point's rounding (see the module's notes):
        exact numerators (over ``self.denominator``, which a lift may change) or None. Candidates
        for lifting: the rounding, its local repair, the rounding without the bound's clipping,
        and on an integer lattice the rounding to halves (whose mod-3 reduction may lift)."""
        d = self.lattice.denominator
        real = self.factors()
        nums = [self.lattice.numerators(f) for f in real]
        fixed = local_repair(self.exact_tensor, nums, self.lattice)
        found = exact_factors(self.exact_tensor, *fixed, d)
        if found is not None:
            self.denominator, self.repairs = d, self.repairs + 1
            return found
        tries = [(nums, d), (fixed, d), ([np.rint(f * d).astype(np.int64) for f in real], d)]
        if d == 1:
            tries.append(([np.rint(f * 2).astype(np.int64) for f in real], 2))
        seen: set[bytes] = set()
        for cand, den in tries:
            key = b"|".join([str(den).encode(), *(a.tobytes() for a in cand)])
            if key in seen:
                continue
            seen.add(key)
            lifted = modular_repair(self.exact_tensor, cand, den, ring)
            if lifted is not None:
                found, self.denominator = lifted
                self.repairs += 1
                return found
        return None

    def _next_batch(self) -> None:
        self.banned[:] = False
        free = int(self.free.sum())
        self.batch = max(1, int(self.prune * free))
        if not self._zero_batch():
            self.phase = 2

    def advance(self, iterations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Run up to ``iterations`` LM iterations; exact numerators when the attempt has just succeeded."""
        for _ in range(iterations):
            if self.phase == 2:
                return None
            self.iterations += 1
            self.since += 1
            if self.phase == 0 and self.fit == "als" and self.residual > ALS_HANDOFF:
                self._als()
            else:
                self._lm()
            if not np.isfinite(self.residual):
                self.phase = 2
                return None
            if self.residual < FIT_TOL:
                if self.phase <= 1:  # each term rescaled after every exact (re)fit while sparsifying
                    self._normalise()
                    self.residual = self._cost(self.x)
                    self.phase, self.reached = 1, True
                self.denominator = self.lattice.denominator
                found = self._rounded()
                if found is not None:
                    self.phase = 2
                    return found
                self._next_batch()
            elif self.phase == 0 and self.since >= self.fit_iterations:
                self.phase = 2
            elif self.phase == 0 and self.since % self.stall == 0:
                if self.residual > 0.9 * self.mark:
                    self.phase = 2  # stuck in a local minimum: a fresh start is cheaper
                self.mark = self.residual
            elif self.phase != 0 and self.since >= self.refit_iterations:
                self._undo_batch()
                if self.batch > 1:
                    self.batch //= 2
                elif int(self.banned.sum()) >= self.retries:
                    last = 4 if self.lattice.denominator > 1 else 3
                    if self.phase == last:
                        self.phase = 2
                        return None
                    self.phase = 3 if self.phase == 1 else 4  # no further zero holds: fix to lattice values
                    self.banned[:] = False
                    self.batch = max(1, int(self.prune * int(self.free.sum())))
                if not self._zero_batch():
                    self.phase = 2
        return None


def fit(
    tensor: np.ndarray, rank: int, rng: np.random.Generator, iterations: int, deadline: float | None = None
) -> tuple[list[np.ndarray], float]:
    """A plain real fit of ``tensor`` with ``rank`` terms from one random start (no penalty, no
    sparsifying): the factors at the lowest squared residual seen in ``iterations`` LM iterations
    or until ``deadline`` (``time.perf_counter``), and that residual."""
    attempt = Attempt(tensor, rank, Lattice(1, 1), rng, iterations, 0, 0.0, penalty=0.0)
    best_x, best = attempt.x.copy(), attempt.residual
    for _ in range(iterations):
        attempt._lm()
        if not np.isfinite(attempt.residual):
            break
        if attempt.residual < best:
            best_x, best = attempt.x.copy(), attempt.residual
        if best < 1e-24 or (deadline is not None and time.perf_counter() > deadline):
            break
    return [f.copy() for f in attempt.factors(best_x)], best
