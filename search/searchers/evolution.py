"""``evolution``: an island of schemes evolved by walk segments, isotropies and crossover.

Each worker's searcher is one island (migration: ``receive`` takes what other islands share).
A child is made from a parent chosen mostly among the lowest-rank members (else by an NSGA-II
tournament): optionally crossed with a second parent (a subset of A's terms, completed greedily
with terms of B, the residual tensor written out as extra terms), optionally sandwiched by a
random isotropy (matrix multiplication only; over ZT one whose inverse is ternary), then walked
for a segment of random length with the compiled walk (flips, reductions, plus transitions).
Segment lengths adapt by the 1/5 success rule. The child joins the population if it is new
(``Packed.key``); steady-state NSGA-II selection on (rank, naive additions, overlap with the
closest other member) then drops the worst, while the ``elite`` best by (rank, additions)
always survive. Every scheme of a rank lower than any reported before is reported at once.

The population is kept sorted by (rank, key), so a snapshot grouped by rank restores the very
same order; with the arena (the walker and its random stream) and the numpy generator state in
the snapshot, a restored island continues exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import Tensor

from ..packing import Packed, bitplanes
from ..params import DOMAIN_CODES, F2
from .base import TUNING_LIMIT, Candidate, Progress, Report, Searcher, SearcherParams, option

__all__ = [
    "EvolutionParams",
    "EvolutionSearcher",
    "non_dominated_sort",
    "crowding_distance",
    "nsga2_order",
    "crossover",
    "isotropy_packed",
    "random_isotropy",
    "is_valid",
    "additions",
]

_MAX = TUNING_LIMIT - 1
ISOTROPY_TRIES = 4  # random isotropies tried over ZT before a child goes on without one


@dataclass(frozen=True)
class EvolutionParams(SearcherParams):
    """Tuning of the evolutionary search; the defaults suit 3x3x3 to 5x5x5."""

    population: int = option(24, "Schemes kept per island (each worker is an island).", 2, 1_000)
    elite: int = option(4, "Members with the lowest (rank, additions) that always survive selection.", 0, 1_000)
    rank_window: int = option(1, "Members more than this many ranks above the island's lowest rank leave.", 0, 1_000)
    elite_parents: float = option(
        0.7, "Share of parents drawn from the lowest-rank members (the rest: NSGA-II tournament).", 0, 1
    )
    segment_min: int = option(5_000, "Shortest walk segment of a mutation (flips).", 1, _MAX)
    segment_max: int = option(5_000_000, "Longest walk segment (flips); lengths adapt in between.", 1, _MAX)
    crossover_rate: float = option(0.15, "Share of children made by crossover of two parents, then repaired.", 0, 1)
    isotropy_rate: float = option(
        0.15, "Share of children sandwiched by a random isotropy first (matrix multiplication only).", 0, 1
    )
    segment_plus_after: int = option(
        5_000, "Flips without a lower rank before a walk segment takes a plus transition.", 1, _MAX
    )
    segment_plus_delta: int = option(2, "Plus transitions only while a segment's rank < its lowest + this.", 0, 64)
    migrants: float = option(1.0, "Probability that a scheme another island shares joins this population.", 0, 1)


# --- NSGA-II -------------------------------------------------------------------------------------


def non_dominated_sort(objs: np.ndarray) -> list[list[int]]:
    """Fronts of row indices (all objectives minimised): front 0 is dominated by no row, front 1
    only by rows of front 0, and so on; each front lists its indices in increasing order."""
    objs = np.asarray(objs, dtype=float)
    if len(objs) == 0:
        return []
    le = (objs[:, None, :] <= objs[None, :, :]).all(axis=2)
    lt = (objs[:, None, :] < objs[None, :, :]).any(axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    count = dom.sum(axis=0)
    fronts = []
    left = np.ones(len(objs), bool)
    while left.any():
        front = np.flatnonzero(left & (count == 0))
        fronts.append([int(i) for i in front])
        left[front] = False
        count = count - dom[front].sum(axis=0)
        count[~left] = -1
    return fronts


def crowding_distance(objs: np.ndarray, front: list[int]) -> np.ndarray:
    """NSGA-II crowding distance of each member of ``front`` (in its order): the sum over objectives
    of the normalised gap between its two neighbours; the extremes of each objective get inf."""
    objs = np.asarray(objs, dtype=float)
    dist = np.zeros(len(front))
    if len(front) <= 2:
        dist[:] = math.inf
        return dist
    sub = objs[front]
    for k in range(sub.shape[1]):
        order = np.argsort(sub[:, k], kind="stable")
        vals = sub[order, k]
        dist[order[0]] = dist[order[-1]] = math.inf
        span = vals[-1] - vals[0]
        if span > 0:
            dist[order[1:-1]] += (vals[2:] - vals[:-2]) / span
    return dist


def nsga2_order(objs: np.ndarray) -> list[int]:
    """Row indices best first: by front, then by crowding distance (larger first), then by index."""
    out: list[int] = []
    for front in non_dominated_sort(objs):
        dist = crowding_distance(objs, front)
        out += [front[i] for i in sorted(range(len(front)), key=lambda i: (-dist[i], front[i]))]
    return out


# --- schemes as small integer arrays -------------------------------------------------------------


def _reduce(x: np.ndarray, domain: str) -> np.ndarray:
    """Integers read in the domain, as representatives in {-1, 0, 1} (F2: {0, 1}; ZT: unchanged)."""
    if domain == "F2":
        return x % 2
    if domain == "F3":
        return (x + 1) % 3 - 1
    return x


def _factors(packed: Packed, shape: tuple[int, int, int]) -> list[np.ndarray]:
    """The three (rank, width) int64 factor matrices of a packed scheme."""
    out = []
    for s, width in enumerate(shape):
        bit = np.uint64(1) << np.arange(width, dtype=np.uint64)
        pos = (packed.fp[:, s, None] & bit) != 0
        neg = (packed.fn[:, s, None] & bit) != 0
        out.append(pos.astype(np.int64) - neg.astype(np.int64))
    return out


def _pack(factors: list[np.ndarray], domain: str) -> Packed:
    """Pack factor matrices with entries in {-1, 0, 1}; terms with a zero factor are dropped."""
    rank = factors[0].shape[0]
    fp = np.zeros((rank, 3), np.uint64)
    fn = np.zeros((rank, 3), np.uint64)
    for s, a in enumerate(factors):
        fp[:, s], fn[:, s] = bitplanes(a)
    if domain == "F2":
        fp, fn = fp | fn, np.zeros_like(fn)
    keep = np.all((fp | fn) != 0, axis=1)
    return Packed(np.ascontiguousarray(fp[keep]), np.ascontiguousarray(fn[keep]), domain)


def _product(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.einsum("ri,rj,rk->ijk", u, v, w)


def is_valid(packed: Packed, tensor: np.ndarray) -> bool:
    """Does the packed scheme decompose ``tensor`` exactly in its domain (numpy reconstruction)?"""
    if packed.rank and any(
        int(np.bitwise_or.reduce(packed.fp[:, s] | packed.fn[:, s])) >> w for s, w in enumerate(tensor.shape)
    ):
        return False
    u, v, w = _factors(packed, tensor.shape)
    diff = _reduce(_product(u, v, w) - tensor, packed.domain)
    return not diff.any()


def additions(packed: Packed, shape: tuple[int, int, int]) -> int:
    """Naive additions: (nonzeros - 1) per term's A and B forms, and per output of C."""
    u, v, w = (a != 0 for a in _factors(packed, shape))
    per_term = int(np.maximum(u.sum(1) - 1, 0).sum() + np.maximum(v.sum(1) - 1, 0).sum())
    return per_term + int(np.maximum(w.sum(0) - 1, 0).sum())


def _term_keys(packed: Packed) -> set[bytes]:
    """Each term as bytes, independent of the signs of its factors (as in ``Packed.key``)."""
    fp, fn = packed.fp.copy(), packed.fn.copy()
    if packed.code != F2:
        for s in (0, 1):
            sup = fp[:, s] | fn[:, s]
            low = sup & (~sup + np.uint64(1))
            neg = (fn[:, s] & low) != 0
            for q in (s, 2):
                fp[neg, q], fn[neg, q] = fn[neg, q], fp[neg, q].copy()
    rows = np.concatenate([fp, fn], axis=1)
    return {r.tobytes() for r in rows}


# --- crossover -----------------------------------------------------------------------------------


def _residual_terms(res: np.ndarray, domain: str) -> list[list[np.ndarray]]:
    """Rank-one terms [x, y, z] that sum to ``res`` exactly: along the mode with the fewest nonzero
    fibres, one term e_i ⊗ (±e_j ± e_j' ...) ⊗ fibre per row i and fibre (up to sign); over ZT a
    fibre entry beyond ±1 takes as many terms as its size."""
    mode = min(range(3), key=lambda s: (np.count_nonzero(np.abs(np.moveaxis(res, s, 2)).sum(axis=2)), s))
    axes = [s for s in range(3) if s != mode] + [mode]  # the original mode of each axis of t
    t = np.moveaxis(res, mode, 2)
    a_dim, b_dim, _ = t.shape
    terms = []
    for i in range(a_dim):
        groups: list[list[np.ndarray]] = []  # [fibre (first nonzero +1), b]
        for j in range(b_dim):
            fibre = t[i, j].copy()
            while fibre.any():
                part = np.clip(fibre, -1, 1)
                fibre = fibre - part
                sign = part[np.flatnonzero(part)[0]]
                part = part * sign  # first nonzero +1; the sign moves to e_j
                group = next((g for g in groups if np.array_equal(g[0], part) and g[1][j] == 0), None)
                if group is None:
                    group = [part, np.zeros(b_dim, np.int64)]
                    groups.append(group)
                group[1][j] = sign
        for fibre, b in groups:
            a = np.zeros(a_dim, np.int64)
            a[i] = 1
            term: list[np.ndarray] = [np.empty(0)] * 3
            for axis, f in zip(axes, (a, b, fibre), strict=True):
                term[axis] = _reduce(f, domain)
            terms.append(term)
    return terms


def crossover(a: Packed, b: Packed, tensor: np.ndarray, rng: np.random.Generator, max_rank: int) -> Packed | None:
    """A child of ``a`` and ``b``: a random subset of a's terms, b's terms that shrink the residual
    (in a random order, greedily), and terms that write out what is left; None when the child
    would exceed ``max_rank`` or is not exactly valid (never expected; checked anyway)."""
    domain, shape = a.domain, tensor.shape
    ua, va, wa = _factors(a, shape)
    ub, vb, wb = _factors(b, shape)
    keep = np.sort(rng.choice(a.rank, size=int(rng.integers(1, max(a.rank, 2))), replace=False))
    chosen = [ua[keep], va[keep], wa[keep]]
    res = _reduce(tensor - _product(*chosen), domain)
    taken = []
    for t in rng.permutation(b.rank):
        trial = _reduce(res - np.einsum("i,j,k->ijk", ub[t], vb[t], wb[t]), domain)
        if np.count_nonzero(trial) < np.count_nonzero(res):
            res = trial
            taken.append(int(t))
    extra = _residual_terms(res, domain)
    if len(keep) + len(taken) + len(extra) > max_rank:
        return None
    factors = []
    for s, f in enumerate((ub, vb, wb)):
        rows = np.array([e[s] for e in extra], np.int64).reshape(len(extra), shape[s])
        factors.append(np.concatenate([chosen[s], f[np.array(taken, dtype=np.intp)], rows]))
    child = _pack(factors, domain)
    return child if is_valid(child, tensor) else None


# --- isotropies ----------------------------------------------------------------------------------


def random_isotropy(
    rng: np.random.Generator, n: int, transvections: int, ternary: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A random n x n integer matrix with det ±1 and its integer inverse: a signed permutation times
    up to ``transvections`` transvections I ± e_ab; with ``ternary`` a transvection that would take
    the matrix or its inverse out of {-1, 0, 1} is left out."""
    perm = rng.permutation(n)
    signs = rng.choice(np.array([-1, 1]), size=n)
    x = np.zeros((n, n), np.int64)
    x[np.arange(n), perm] = signs
    xi = x.T.copy()  # a signed permutation's inverse
    for _ in range(transvections if n > 1 else 0):
        i, j = rng.choice(n, size=2, replace=False)
        s = int(rng.choice(np.array([-1, 1])))
        e, ei = np.eye(n, dtype=np.int64), np.eye(n, dtype=np.int64)
        e[i, j], ei[i, j] = s, -s
        nx, nxi = x @ e, ei @ xi
        if ternary and (np.abs(nx).max() > 1 or np.abs(nxi).max() > 1):
            continue
        x, xi = nx, nxi
    return x, xi


def isotropy_packed(
    packed: Packed, fmt: tuple[int, int, int], mats: list[tuple[np.ndarray, np.ndarray]]
) -> Packed | None:
    """The isotropy (X, Y, Z) of ``schemes.symmetry.isotropy`` on a packed scheme: U -> Xᵀ U Y⁻ᵀ,
    V -> Yᵀ V Z⁻ᵀ, C -> X⁻¹ C Z; None over ZT when a coefficient leaves {-1, 0, 1}."""
    n, m, p = fmt
    (x, xi), (y, yi), (z, zi) = mats
    u, v, w = _factors(packed, (n * m, m * p, p * n))
    r = packed.rank
    nu = (x.T @ u.reshape(r, n, m) @ yi.T).reshape(r, -1)
    nv = (y.T @ v.reshape(r, m, p) @ zi.T).reshape(r, -1)
    c = w.reshape(r, p, n).transpose(0, 2, 1)
    nw = (xi @ c @ z).transpose(0, 2, 1).reshape(r, -1)
    out = [_reduce(a, packed.domain) for a in (nu, nv, nw)]
    if any(np.abs(a).max(initial=0) > 1 for a in out):
        return None
    return _pack(out, packed.domain)


# --- the searcher --------------------------------------------------------------------------------


class EvolutionSearcher(Searcher):
    """An island of schemes over F2, F3 or ZT; see the module docstring."""

    name = "evolution"
    Params = EvolutionParams
    summary = "islands of schemes: walk segments, isotropies, crossover; NSGA-II on rank, additions, diversity"

    def __init__(
        self, tensor: Tensor, domain: str, params: EvolutionParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from ..kernels.index import new_arena  # numba loads with the searcher, not with the command line

        self.label = tensor.label(with_shape=False)
        self.target = np.asarray(tensor.array, dtype=np.int64)
        self.members: list[Packed] = []  # sorted by (rank, key)
        self.keys: list[bytes] = []  # their keys (``Packed.key`` is not cheap)
        self._stats: dict[bytes, tuple[int, int, set[bytes]]] = {}  # rank, additions, terms
        self._shared: dict[bytes, dict[bytes, int]] = {}  # terms two members have in common
        self._order: list[int] | None = None
        for members in start.values():
            for c in members:
                if c.packed is not None and c.packed.domain == domain:
                    self._add(c.packed)
        if not self.members:
            raise ValueError("an evolutionary search needs at least one start scheme packed over its domain")
        self.rng = np.random.default_rng([seed, 0xE70])
        top = max(p.rank for p in self.members)
        cap = top + max(8, top // 2) + params.segment_plus_delta + 2
        first = self.members[0]
        self.arena = new_arena(first.fp, first.fn, DOMAIN_CODES[domain], cap, seed)
        self._trim()
        self.reported = self.best_rank()  # start schemes are not reported
        self.work = 0
        self.active = False
        self.remaining = 0  # flips left in the current segment
        self.parent_rank = 0
        self.seg_low = 0  # lowest rank of the current segment
        self.low: Packed | None = None  # the scheme at that rank (None: the walker's start)
        self.counted = False  # does the current segment count for the 1/5 rule (a plain walk)?
        self.scale = float(min(params.segment_min, params.segment_max)) * 4

    @classmethod
    def is_compiled(cls) -> bool:
        from ..kernels.walk import kernels_cached

        return kernels_cached()

    @classmethod
    def prepare(cls) -> None:
        from ..kernels.walk import prepare_kernels

        prepare_kernels()

    # --- the population ----------------------------------------------------------------------------

    def _add(self, scheme: Packed) -> bool:
        """A new member (kept sorted by (rank, key)); False when the population already holds it."""
        key = scheme.key()
        if key in self._stats:
            return False
        terms = _term_keys(scheme)
        self._stats[key] = (scheme.rank, additions(scheme, self.target.shape), terms)
        self._shared[key] = {}
        for other in self.keys:
            self._shared[key][other] = self._shared[other][key] = len(terms & self._stats[other][2])
        at = sum((p.rank, k) < (scheme.rank, key) for p, k in zip(self.members, self.keys, strict=True))
        self.members.insert(at, scheme)
        self.keys.insert(at, key)
        self._order = None
        return True

    def _remove(self, index: int) -> None:
        self.members.pop(index)
        key = self.keys.pop(index)
        del self._stats[key]
        for other in self._shared.pop(key):
            del self._shared[other][key]
        self._order = None

    def _objectives(self) -> np.ndarray:
        """(rank, naive additions, overlap) per member: overlap is the largest share of its terms
        that another member also has, so near-copies crowd each other out."""
        objs = np.zeros((len(self.keys), 3))
        for i, key in enumerate(self.keys):
            rank, adds, _ = self._stats[key]
            objs[i] = (rank, adds, max(self._shared[key].values(), default=0) / max(rank, 1))
        return objs

    def _nsga_order(self) -> list[int]:
        if self._order is None:
            self._order = nsga2_order(self._objectives())
        return self._order

    def _protected(self) -> set[int]:
        """The elite: the lowest (rank, additions) members, at least the lowest rank's best."""
        ranked = sorted(range(len(self.members)), key=lambda i: self._stats[self.keys[i]][:2] + (i,))
        return set(ranked[: min(max(1, self.params.elite), self.params.population)])

    def _trim(self) -> None:
        """Drop members beyond the rank window, then the worst by NSGA-II until the population fits."""
        limit = self.best_rank() + self.params.rank_window
        for i in reversed(range(len(self.members))):
            if self.members[i].rank > limit:
                self._remove(i)
        while len(self.members) > self.params.population:
            keep = self._protected()
            worst = next(i for i in reversed(self._nsga_order()) if i not in keep)
            self._remove(worst)

    def _offer(self, scheme: Packed) -> None:
        if scheme.rank <= self.best_rank() + self.params.rank_window and self._add(scheme):
            self._trim()

    # --- making children ---------------------------------------------------------------------------

    def _parent(self) -> int:
        """A lowest-rank member (``elite_parents`` of the time), else the winner of a binary tournament."""
        if self.rng.random() < self.params.elite_parents:
            lowest = sum(p.rank == self.members[0].rank for p in self.members)
            return int(self.rng.integers(lowest))
        place = {m: k for k, m in enumerate(self._nsga_order())}
        i, j = (int(x) for x in self.rng.integers(len(self.members), size=2))
        return i if place[i] <= place[j] else j

    def _segment_length(self) -> int:
        lo, hi = sorted((self.params.segment_min, self.params.segment_max))
        length = self.scale * math.exp(self.rng.uniform(-math.log(2), math.log(2)))
        return int(min(max(length, lo), hi))

    def _start(self) -> None:
        from ..kernels.index import CAP, load

        p = self.params
        parent = self._parent()
        child, self.counted = self.members[parent], True
        if len(self.members) > 1 and self.rng.random() < p.crossover_rate:
            other = self._parent()
            if other != parent:
                room = int(self.arena[CAP]) - p.segment_plus_delta - 2
                made = crossover(self.members[parent], self.members[other], self.target, self.rng, room)
                if made is not None:
                    child, self.counted = made, False
        if self.tensor.fmt is not None and self.rng.random() < p.isotropy_rate:
            child = self._sandwich(child)
        load(self.arena, child.fp.view(np.int64), child.fn.view(np.int64))
        self.parent_rank = self.members[parent].rank
        self.seg_low = child.rank
        self.low = None
        self.remaining = self._segment_length()
        self.active = True

    def _sandwich(self, scheme: Packed) -> Packed:
        """``scheme`` under a random isotropy. Over F2/F3 any one works (up to two transvections per
        matrix); over ZT one transvection in one of the three matrices, and a try whose result
        leaves {-1, 0, 1} is retried (ISOTROPY_TRIES times, then ``scheme`` stays as it is)."""
        fmt = self.tensor.fmt
        assert fmt is not None
        zt = self.domain == "ZT"
        for _ in range(ISOTROPY_TRIES):
            which = int(self.rng.integers(3))
            mats = [
                random_isotropy(self.rng, n, int(s == which) if zt else int(self.rng.integers(3)), zt)
                for s, n in enumerate(fmt)
            ]
            turned = isotropy_packed(scheme, fmt, mats)
            if turned is not None:
                return turned
        return scheme

    def _walk(self, flips: int, found: list[Report]) -> int:
        """Walk the current segment for at most ``flips`` flips; returns the flips done."""
        from ..kernels.index import RANK, read_factors
        from ..kernels.walk import walk

        p = self.params
        spent = 0
        while spent < flips:
            done = walk(
                self.arena,
                flips - spent,
                self.seg_low - 1,
                p.segment_plus_after,
                p.segment_plus_delta,
                self.seg_low,
                False,
            )
            spent += done
            self.work += done
            self.remaining -= done
            if int(self.arena[RANK]) < self.seg_low:
                fp, fn = read_factors(self.arena)
                self.low = Packed(fp, fn, self.domain)
                self.seg_low = self.low.rank
                if self.low.rank < self.reported:
                    self.reported = self.low.rank
                    self._offer(self.low)
                    found.append(Report(Candidate(self.label, packed=self.low), self.work))
            elif done == 0:  # stuck: no flip, plus or split possible
                self.remaining = 0
                break
        return spent

    def _finish(self) -> None:
        """End the segment: the child (its last state if that is at its lowest rank, else the lowest
        state) joins the population; a plain walk's outcome steers the segment length."""
        from ..kernels.index import RANK, read_factors

        if int(self.arena[RANK]) == self.seg_low or self.low is None:
            fp, fn = read_factors(self.arena)
            child = Packed(fp, fn, self.domain)
        else:
            child = self.low
        self._offer(child)
        if self.counted:
            success = float(self.seg_low < self.parent_rank)
            lo, hi = sorted((self.params.segment_min, self.params.segment_max))
            self.scale = min(max(self.scale * math.exp(0.5 * (0.2 - success)), lo), hi)
        self.active = False
        self.low = None

    # --- the seam ----------------------------------------------------------------------------------

    def step(self, budget: int) -> list[Report]:
        found: list[Report] = []
        spent = 0
        while spent < budget:
            if not self.active:
                self._start()
                spent += 1  # making a child is work too: a step never spins
            spent += self._walk(min(self.remaining, budget - spent), found)
            if self.remaining <= 0:
                self._finish()
        return found

    def progress(self) -> Progress:
        pools: dict[int, int] = {}
        for p in self.members:
            pools[p.rank] = pools.get(p.rank, 0) + 1
        return Progress(self.work, self.best_rank(), pools, self.seg_low if self.active else None)

    def best_rank(self) -> int:
        return self.members[0].rank

    def snapshot(self) -> dict[str, Any]:
        pools: dict[int, list[Candidate]] = {}
        for p in self.members:
            pools.setdefault(p.rank, []).append(Candidate(self.label, packed=p))
        return {
            "pools": pools,
            "arena": self.arena.copy(),
            "rng": self.rng.bit_generator.state,
            "low": [] if self.low is None else [Candidate(self.label, packed=self.low)],
            "scale": self.scale,
            "counters": [
                self.work,
                self.remaining,
                self.parent_rank,
                self.seg_low,
                int(self.active),
                int(self.counted),
                self.reported,
            ],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.members, self.keys, self._stats, self._shared, self._order = [], [], {}, {}, None
        for members in snapshot["pools"].values():
            for c in members:
                self._add(c.packed)
        self.arena = np.array(snapshot["arena"], dtype=np.int64)
        self.rng.bit_generator.state = snapshot["rng"]
        self.low = snapshot["low"][0].packed if snapshot["low"] else None
        self.scale = float(snapshot["scale"])
        counters = [int(x) for x in snapshot["counters"]]
        self.work, self.remaining, self.parent_rank, self.seg_low, active, counted, self.reported = counters
        self.active, self.counted = bool(active), bool(counted)

    def receive(self, message: Candidate) -> None:
        """Migration: a scheme from another island joins the population (``migrants`` of the time)."""
        packed = message.packed
        if packed is None or message.target != self.label or packed.domain != self.domain:
            return
        if not is_valid(packed, self.target):
            return
        self.reported = min(self.reported, packed.rank)
        if self.params.migrants >= 1 or self.rng.random() < self.params.migrants:
            self._offer(packed)
