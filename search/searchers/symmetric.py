"""``symmetric``: flip-graph walks on cyclic (Z3-invariant) schemes of <n,n,n>, whole orbits at a time.

Moosbauer and Poole's symmetric flips: the scheme is a few fixed cubes d⊗d⊗d (diagonal d, the
``--cubes`` patterns) plus orbits of three cyclic terms, and every flip, reduction and plus
transition acts on whole orbits (``kernels/orbit.py``), so the rank drops by 3 at a time and the
walk sees a flip graph about 27 times smaller. A run starts from the naive scheme rewritten as
orbits; after ``--orbit-restart`` flips without a lower rank it starts again (a new run, a new
stretch of the random stream). Rank = 3 * orbits + cubes, so the cubes fix the rank modulo 3:
<5,5,5>:93 takes 3 cubes (the default pairs i with n+1-i), <4,4,4>:49 one (``--cubes 1111``).
``--symmetry z3xz2`` adds the reflection (i, j) -> (n+1-i, n+1-j): six terms per orbit, rank =
6 * orbits + cubes, a graph smaller again (Moosbauer and Poole's choice for <6,6,6>:153).

A best another worker shares (``receive``) is checked exactly: its multiset of terms (signs moved
to the third factor) must be mapped to itself by the rotation (and by the reflection with z3xz2),
and must split into this searcher's cubes plus whole orbits. Such a scheme joins the pools and,
with probability ``--copy-best``, the current run goes on from it (when it is below the run's
lowest rank). Anything else, above all a scheme that is not invariant (another searcher's), is
ignored and counted (``ignored``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import SchemeError, Tensor
from flipforge.schemes.orbits import cyclic_start, default_cubes, parse_cubes

from ..packing import Packed, bitplanes
from ..params import DOMAIN_CODES, F2
from .base import TUNING_LIMIT, Candidate, Progress, Report, Searcher, SearcherParams, option

__all__ = ["SymmetricParams", "SymmetricSearcher"]

_MAX = TUNING_LIMIT - 1
KEEP = 8  # distinct schemes kept per rank
_CUBES = re.compile(r"^(auto|none|[01]{2,}([, ][01]{2,})*)$")
SYMMETRIES = ("z3", "z3xz2")


def _check_cubes(value: str) -> str | None:
    if not _CUBES.match(value.strip().lower()):
        return f"cube patterns look like 10001,01010,00100 (or auto, or none), not {value!r}"
    return None


def _check_symmetry(value: str) -> str | None:
    return None if value in SYMMETRIES else f"the symmetry is one of {', '.join(SYMMETRIES)}, not {value!r}"


@dataclass(frozen=True)
class SymmetricParams(SearcherParams):
    """Options of the orbit walk; the defaults are Moosbauer and Poole's for <5,5,5>:93."""

    symmetry: str = option(
        "z3", "z3: orbits of the cyclic symmetry (3 terms); z3xz2: also reflected (6 terms).", check=_check_symmetry
    )
    cubes: str = option(
        "auto",
        "Fixed cubes d⊗d⊗d as diagonal patterns, e.g. 10001,01010,00100; auto pairs entry i with n+1-i; "
        "none: over F2 a diagonal entry then becomes an orbit of three equal terms.",
        check=_check_cubes,
    )
    orbit_plus_after: int = option(16_000, "Orbit flips without a reduction before a plus transition.", 1, _MAX)
    orbit_plus_delta: int = option(0, "Plus transitions only while the rank stays <= the start rank + this.", 0, 10_000)
    orbit_restart: int = option(
        30_000_000, "Orbit flips without a new lowest rank of the run before a new run starts.", 1, _MAX
    )
    orbit_chunk: int = option(1_000_000, "Orbit flips per call of the compiled walk.", 1, _MAX, cli=False)
    copy_best: float = option(
        0.0,
        "Probability that the walk moves to an invariant best another worker found (else it only pools it; "
        "a scheme that is not invariant is ignored).",
        0,
        1,
    )


def _reflect(v: np.ndarray, width: int) -> np.ndarray:
    """ρ on packed factors: the lowest ``width`` bits of each word in reverse order."""
    out = np.zeros_like(v)
    for b in range(width):
        out |= ((v >> np.uint64(b)) & np.uint64(1)) << np.uint64(width - 1 - b)
    return out


def _terms(vp: np.ndarray, vn: np.ndarray, alive: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The (rank, 3) bitplanes of the live orbits' three rotations each (and their reflections
    when ``width`` > 0)."""
    k = np.flatnonzero(alive)
    out = []
    for v in (vp, vn):
        x, y, z = v[3 * k], v[3 * k + 1], v[3 * k + 2]
        if width:
            x, y, z = (np.concatenate([f, _reflect(f, width)]) for f in (x, y, z))
        out.append(np.concatenate([np.stack([x, y, z], 1), np.stack([y, z, x], 1), np.stack([z, x, y], 1)]))
    return out[0], out[1]


_Term = tuple[int, int, int, int, int, int]


def _term_counts(fp: np.ndarray, fn: np.ndarray, f2: bool) -> Counter[_Term]:
    """The multiset of terms, each with its signs moved to the third factor (the first nonzero
    entry of the first two factors is +1), so that equal rank-one tensors count as equal; over F2
    equal terms cancel in pairs."""
    fp, fn = fp.copy(), fn.copy()
    if not f2:
        for s in (0, 1):
            sup = fp[:, s] | fn[:, s]
            neg = (fn[:, s] & (sup & (~sup + np.uint64(1)))) != 0
            for q in (s, 2):
                fp[neg, q], fn[neg, q] = fn[neg, q], fp[neg, q].copy()
    rows = Counter(tuple(int(x) for x in (*a, *b)) for a, b in zip(fp, fn, strict=True))
    if f2:
        return Counter({t: 1 for t, k in rows.items() if k % 2})
    return rows


class SymmetricSearcher(Searcher):
    """Orbit walks over F2, F3 or ZT for <n,n,n> with n*n <= 64."""

    name = "symmetric"
    Params = SymmetricParams
    summary = "Z3 (or Z3xZ2) symmetric orbit flips on <n,n,n>, Moosbauer-Poole; rank = 3*orbits + cubes"

    def __init__(
        self, tensor: Tensor, domain: str, params: SymmetricParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        orbits, ds = self._start(tensor, domain, params)
        self.label = tensor.label(with_shape=False)
        self.dom = DOMAIN_CODES[domain]
        mirror = params.symmetry == "z3xz2"
        self.width = tensor.fmt[0] ** 2 if mirror else 0  # type: ignore[index]
        self.per = 6 if mirror else 3  # terms per orbit
        k0 = orbits.shape[0]
        cap = k0 + params.orbit_plus_delta // self.per + 1
        p0, n0 = bitplanes(orbits.reshape(3 * k0, -1))
        self.start_p = np.zeros(3 * cap, np.uint64)
        self.start_n = np.zeros(3 * cap, np.uint64)
        self.start_p[: 3 * k0], self.start_n[: 3 * k0] = p0, n0
        self.start_alive = np.zeros(cap, np.int64)
        self.start_alive[:k0] = 1
        cp, cn = bitplanes(ds)
        self.cube_p = np.repeat(cp[:, None], 3, axis=1).astype(np.uint64)
        self.cube_n = np.repeat(cn[:, None], 3, axis=1).astype(np.uint64)
        self.pools: dict[int, list[Candidate]] = {}
        for rank, members in start.items():
            for c in members:
                self._pool(int(rank), c)
        own = self._candidate(self.start_p, self.start_n, self.start_alive)
        self._pool(own.rank, own)
        seed_word = np.random.SeedSequence([seed, 3]).generate_state(1, np.uint64)
        self.rng = np.array([seed_word[0] | np.uint64(1)], dtype=np.uint64)
        self.runs = 0
        self.work_before = 0
        self.adopted = 0  # received bests the walk moved to
        self.ignored = 0  # received schemes that are not invariant (or not made of this searcher's cubes)
        self.copy_rng = np.random.default_rng([seed, 4])
        self.finished: list[tuple[int, int]] = []  # (lowest rank, flips) of each finished run
        self._new_run()

    @classmethod
    def _start(cls, tensor: Tensor, domain: str, params: SymmetricParams) -> tuple[np.ndarray, np.ndarray]:
        """The cyclic start (orbits, cubes); SchemeError when the target or the cubes do not fit."""
        fmt = tensor.fmt
        if fmt is None or not fmt[0] == fmt[1] == fmt[2]:
            raise SchemeError(f"--searcher symmetric needs a square format such as 5x5x5, not {tensor.label()}")
        n = fmt[0]
        if n * n > 64:
            raise SchemeError(f"--searcher symmetric packs n*n entries into 64 bits: n <= 8, not {n}")
        text = params.cubes.strip().lower()
        cubes = parse_cubes(default_cubes(n) if text == "auto" else text, n)
        return cyclic_start(n, cubes, domain, mirror=params.symmetry == "z3xz2")

    @classmethod
    def check_target(cls, tensor: Tensor, domain: str, params: SearcherParams) -> None:
        cls._start(tensor, domain, params)  # type: ignore[arg-type]

    # --- the walk --------------------------------------------------------------------------------

    def _new_run(self) -> None:
        from ..kernels.orbit import new_ctl

        self.vp, self.vn, self.alive = self.start_p.copy(), self.start_n.copy(), self.start_alive.copy()
        self.best_p, self.best_n, self.best_alive = self.vp.copy(), self.vn.copy(), self.alive.copy()
        rank = self.per * int(self.alive.sum())
        start_rank = self.per * int(self.start_alive.sum())
        limit = start_rank + self.params.orbit_plus_delta
        self.ctl = new_ctl(rank, 0, self.params.orbit_plus_after, limit, self.width)
        self.runs += 1

    def _candidate(self, vp: np.ndarray, vn: np.ndarray, alive: np.ndarray) -> Candidate:
        fp, fn = _terms(vp, vn, alive, self.width)
        fp = np.concatenate([fp, self.cube_p]).astype(np.uint64)
        fn = np.concatenate([fn, self.cube_n]).astype(np.uint64)
        if self.dom == F2:  # equal terms cancel in pairs (an orbit x⊗x⊗x is three equal terms)
            _, first, counts = np.unique(fp, axis=0, return_index=True, return_counts=True)
            keep = np.sort(first[counts % 2 == 1])
            fp, fn = fp[keep], fn[keep]
        return Candidate(self.label, packed=Packed(np.ascontiguousarray(fp), np.ascontiguousarray(fn), self.domain))

    def _pool(self, rank: int, c: Candidate) -> bool:
        members = self.pools.setdefault(rank, [])
        if len(members) >= KEEP or any(m.key() == c.key() for m in members):
            return False
        members.append(c)
        return True

    @classmethod
    def is_compiled(cls) -> bool:
        from ..kernels.orbit import orbit_walk
        from ..kernels.walk import kernels_cached

        return kernels_cached(orbit_walk)

    @classmethod
    def prepare(cls) -> None:
        from ..kernels.orbit import new_ctl, orbit_walk

        z = np.zeros(3, np.uint64)
        a = np.ones(1, np.int64)
        orbit_walk(
            F2,
            z.copy(),
            z.copy(),
            a.copy(),
            z.copy(),
            z.copy(),
            a.copy(),
            np.ones(1, np.uint64),
            new_ctl(3, 0, 1, 3),
            1,
        )

    def budget(self) -> int:
        return self.params.orbit_chunk

    # --- the Searcher seam -----------------------------------------------------------------------

    def step(self, budget: int) -> list[Report]:
        from ..kernels.orbit import orbit_walk

        reports: list[Report] = []
        left = budget
        while left > 0:
            chunk = min(left, self.params.orbit_restart - int(self.ctl[2]) + 1)
            args = (self.vp, self.vn, self.alive, self.best_p, self.best_n, self.best_alive, self.rng, self.ctl)
            if orbit_walk(self.dom, *args, chunk):
                c = self._candidate(self.best_p, self.best_n, self.best_alive)
                if c.rank < self.best_rank():
                    self._pool(c.rank, c)
                    reports.append(Report(c, self._work()))
            left -= chunk
            if self.ctl[2] >= self.params.orbit_restart:
                self.finished.append((int(self.ctl[4]) + self.cube_p.shape[0], int(self.ctl[0])))
                self.work_before += int(self.ctl[0])
                self._new_run()
        return reports

    def _work(self) -> int:
        return self.work_before + int(self.ctl[0])

    def progress(self) -> Progress:
        cubes = self.cube_p.shape[0]
        return Progress(
            self._work(), self.best_rank(), {r: len(m) for r, m in self.pools.items()}, int(self.ctl[3]) + cubes
        )

    def best_rank(self) -> int:
        return min(self.pools)

    def snapshot(self) -> dict[str, Any]:
        return {
            "pools": {r: list(m) for r, m in self.pools.items()},
            "slots": [a.copy() for a in (self.vp, self.vn, self.alive, self.best_p, self.best_n, self.best_alive)],
            "rng": self.rng.copy(),
            "ctl": self.ctl.copy(),
            "counters": [self.runs, self.work_before, self.adopted, self.ignored],
            "copy_rng": self.copy_rng.bit_generator.state,
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.pools = {int(r): list(m) for r, m in snapshot["pools"].items()}
        self.vp, self.vn, self.alive, self.best_p, self.best_n, self.best_alive = (
            np.array(a).copy() for a in snapshot["slots"]
        )
        self.rng = np.array(snapshot["rng"], dtype=np.uint64).copy()
        self.ctl = np.array(snapshot["ctl"], dtype=np.int64).copy()
        self.runs, self.work_before, self.adopted, self.ignored = (int(x) for x in snapshot["counters"])
        self.copy_rng.bit_generator.state = snapshot["copy_rng"]

    # --- other workers' bests --------------------------------------------------------------------

    def invariant(self, packed: Packed) -> bool:
        """Whether the scheme's terms are mapped to themselves by the rotation u⊗v⊗w -> v⊗w⊗u (and
        by the reflection with z3xz2), exactly: as multisets of sign-normalised terms."""
        f2 = self.dom == F2
        terms = _term_counts(packed.fp, packed.fn, f2)
        rot = [1, 2, 0]
        if _term_counts(packed.fp[:, rot], packed.fn[:, rot], f2) != terms:
            return False
        if self.width:
            w = self.width
            return _term_counts(_reflect(packed.fp, w), _reflect(packed.fn, w), f2) == terms
        return True

    def orbits_of(self, packed: Packed) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The walk's slots (vp, vn, alive) holding ``packed`` as this searcher's cubes plus whole
        orbits, or None when it is not invariant or does not split so (other cubes, an orbit that
        cancels, more orbits than the slots)."""
        if packed.domain != self.domain or packed.fp.ndim != 2 or packed.fp.shape[1:] != (3,):
            return None
        if not self.invariant(packed):
            return None
        f2 = self.dom == F2
        want = _term_counts(packed.fp, packed.fn, f2)
        left = want.copy()
        left.subtract(_term_counts(self.cube_p, self.cube_n, False))
        if any(k < 0 for k in left.values()):
            return None
        left = +left
        orbits: list[_Term] = []
        one = np.ones(1, np.int64)
        while left:
            t = min(left)
            vp, vn = np.array(t[:3], np.uint64), np.array(t[3:], np.uint64)
            expansion = _term_counts(*_terms(vp, vn, one, self.width), f2)
            if not expansion or any(left[k] < n for k, n in expansion.items()):
                return None
            left.subtract(expansion)
            left = +left
            orbits.append(t)
        cap = self.start_alive.shape[0]
        if len(orbits) > cap:
            return None
        vp, vn, alive = np.zeros(3 * cap, np.uint64), np.zeros(3 * cap, np.uint64), np.zeros(cap, np.int64)
        for k, t in enumerate(orbits):
            vp[3 * k : 3 * k + 3], vn[3 * k : 3 * k + 3], alive[k] = t[:3], t[3:], 1
        again = self._candidate(vp, vn, alive).packed
        if _term_counts(again.fp, again.fn, f2) != want:  # type: ignore[union-attr]
            return None
        return vp, vn, alive

    def receive(self, message: Candidate) -> None:
        """An invariant best of another worker joins the pools (the run moves to it with probability
        ``copy_best``); a scheme that is not invariant, or of another target, is ignored and counted."""
        slots = None
        if message.packed is not None and message.target == self.label:
            slots = self.orbits_of(message.packed)
        if slots is None:
            self.ignored += 1
            return
        self._pool(message.rank, message)
        cubes = self.cube_p.shape[0]
        p = self.params.copy_best
        if p > 0 and self.copy_rng.random() < p and message.rank < int(self.ctl[4]) + cubes:
            from ..kernels.orbit import new_ctl

            self.finished.append((int(self.ctl[4]) + cubes, int(self.ctl[0])))
            self.work_before += int(self.ctl[0])
            self.vp, self.vn, self.alive = slots
            self.best_p, self.best_n, self.best_alive = self.vp.copy(), self.vn.copy(), self.alive.copy()
            limit = self.per * int(self.start_alive.sum()) + self.params.orbit_plus_delta
            rank = self.per * int(self.alive.sum())
            self.ctl = new_ctl(rank, 0, self.params.orbit_plus_after, limit, self.width)
            self.runs += 1
            self.adopted += 1
