"""``meta``: pool walks in the target format and in its neighbour formats, moved between by meta moves.

Moves of the meta flip graph: a scheme of <n+1,m,p> with one index deleted is a scheme of
<n,m,p>, and a scheme of <n-1,m,p> with the naive terms of one more slice is one too; either is
often of lower rank than the walk in <n,m,p> itself has reached (rectangular formats stall where
a neighbour does not: over F2 the walk from the naive <3,4,5> stops near 59 while <3,4,4> goes
down to 39, which extends to 51). This searcher runs the flip-pool walk in the target format and,
every ``meta_every`` steps, one step of a walk in a neighbour, in turn: one index larger along n,
m, p (``--neighbours``, started from the target's start schemes, extended) and one index smaller
(``--smaller-neighbours``, started from the start schemes projected; sides of 2 are not made 1).
Each new lowest rank a neighbour's walk reaches is moved back: a larger neighbour's scheme is
projected at every index (terms merged in the search domain, on bitplanes: ``project_packed``;
over ZT a merge that would leave {-1,0,1} is skipped), a smaller one's extended, and what lands
below the target walk's best is adopted by it and reported. Each new lowest rank of the target
goes to the neighbours in turn (extended into larger ones, projected at every index into smaller
ones). Only new lowest ranks move: pools fill with many schemes per rank, and a meta move costs
far more than a flip. Targets other than <n,m,p>, and neighbours too wide for the 64-bit kernels,
leave the plain walk.

Its pools are keyed by (format, rank): one pool walk per format (``walks``, the target's first),
each with its pools per rank; ``format_pools()`` lists them, ``snapshot()["formats"]`` holds the
neighbours' (the target's are ``snapshot()["pools"]``, as for every searcher) and ``progress()``
reports their sizes (``MetaProgress.formats``). Two more meta moves:

- reset (``--reset-drift D``): before a step, a walk whose rank (its walk's lowest, or the
  working rank between walks) is more than D above the lowest rank of its format this worker
  knows (found or received) starts again from a random member of that lowest pool;
- merge with other workers' bests (``receive``): a best of the target joins its pools (and with
  ``--copy-best`` the walker moves to it, as in flip-pool); with probability ``--merge-best`` it is
  also moved into a random neighbour format (extended, or projected at a random index) whose walk
  moves to it. A received scheme of a neighbour format (checked exactly, since no one else did)
  joins that format's pools and comes back into the target as above; what lands below the target's
  best joins its pools (the walker moves to it with probability ``--merge-best``) and is reported
  at the next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flipforge.schemes import SchemeError, Tensor
from flipforge.schemes.meta import extend
from flipforge.schemes.tensor import format_name, matmul_tensor

from ..packing import MAX_WIDTH, Packed, pack, unpack
from .base import TUNING_LIMIT, Candidate, Progress, Report, option
from .flip_pool import FlipPoolParams, FlipPoolSearcher

__all__ = ["MetaParams", "MetaProgress", "MetaSearcher", "COUNTERS"]

COUNTERS = ("resets", "merged", "projected", "ignored")  # what MetaProgress.meta counts


@dataclass(frozen=True)
class MetaParams(FlipPoolParams):
    """The flip-pool options, for every walk, plus how often the neighbours walk and the meta moves."""

    meta_every: int = option(4, "Steps of the target walk between two steps of a neighbour's walk.", 1, TUNING_LIMIT)
    neighbours: int = option(3, "Neighbours walked: one index larger along n, m, p (the first this many).", 0, 3)
    smaller_neighbours: int = option(
        3,
        "Neighbours walked one index smaller along n, m, p (the first this many; a side of 2 is kept), "
        "their bests extended back.",
        0,
        3,
    )
    reset_drift: int = option(
        4,
        "Reset a walk to a scheme of the lowest rank known in its format when the rank it walks at is "
        "more than this above it (0: always walk from the lowest rank).",
        0,
        TUNING_LIMIT,
    )
    merge_best: float = option(
        0.5,
        "Probability that another worker's best is also moved (extended or projected) into a neighbour "
        "format whose walk goes on from it (for a received neighbour scheme: that the walker moves to "
        "what comes back).",
        0,
        1,
    )


@dataclass(frozen=True)
class MetaProgress(Progress):
    """Progress plus the pool sizes per format (``{format: {rank: size}}``, the target first) and
    the meta moves taken (``{name: count}`` for each of COUNTERS)."""

    formats: dict[str, dict[int, int]] = field(default_factory=dict)
    meta: dict[str, int] = field(default_factory=dict)


class _Walk:
    """The pool walk of one format: ``axis`` is the axis it differs along (None for the target),
    ``step`` +1 for one index more than the target, -1 for one less."""

    def __init__(self, label: str, tensor: Tensor, axis: int | None, step: int, search: Any) -> None:
        self.label, self.tensor, self.axis, self.step, self.search = label, tensor, axis, step, search


def _bit_maps(fmt: tuple[int, int, int], axis: int, index: int) -> list[list[int] | None]:
    """Where each entry of u, v, w goes when ``index`` of ``axis`` is deleted (-1: gone; None: the
    factor is unchanged). u holds A[i,j] at i*m+j, v B[j,k] at j*p+k, w C[i,k] at k*n+i."""
    n, m, p = fmt
    new = [fmt[d] - (d == axis) for d in range(3)]

    def keep(x: int, d: int) -> int:
        return -1 if (d == axis and x == index) else x - (d == axis and x > index)

    def entry(a: int, da: int, b: int, db: int, stride: int) -> int:
        x, y = keep(a, da), keep(b, db)
        return -1 if x < 0 or y < 0 else x * stride + y

    u = [entry(i, 0, j, 1, new[1]) for i in range(n) for j in range(m)]
    v = [entry(j, 1, k, 2, new[2]) for j in range(m) for k in range(p)]
    w = [entry(k, 2, i, 0, new[0]) for k in range(p) for i in range(n)]
    return [None if axis == 2 else u, None if axis == 0 else v, None if axis == 1 else w]


def _signed_key(p: int, n: int) -> tuple[int, int, int]:
    """(key planes, sign): the factor is sign * key, the key's lowest nonzero entry +1."""
    s = p | n
    return (n, p, -1) if n & (s & -s) else (p, n, 1)


def _add(domain: str, xp: int, xn: int, yp: int, yn: int) -> tuple[int, int] | None:
    """x + y on bitplanes in the domain; None when the sum leaves {-1, 0, 1} over ZT."""
    if domain == "F2":
        return xp ^ yp, 0
    if domain == "ZT":
        if xp & yp or xn & yn:
            return None
        return (xp & ~yn) | (yp & ~xn), (xn & ~yp) | (yn & ~xp)
    free = ~(xp | xn)  # F3: 1 + 1 = -1, -1 + -1 = 1
    yfree = ~(yp | yn)
    return (xp & yfree) | (yp & free) | (xn & yn), (xn & yfree) | (yn & free) | (xp & yp)


def project_packed(packed: Packed, fmt: tuple[int, int, int], axis: int, index: int) -> Packed:
    """``schemes.meta.project`` on bitplanes: delete ``index`` of ``axis``, drop the terms left with
    a zero factor, merge terms that share two factors up to sign (skipping a merge that would leave
    {-1,0,1} over ZT) until none is left. Exact in the packed domain, and far faster than the
    Scheme version, which works on Fractions: this is what the meta searcher moves schemes with."""
    domain, f2 = packed.domain, packed.domain == "F2"
    fp, fn = packed.fp.copy(), packed.fn.copy()
    for f, where in enumerate(_bit_maps(fmt, axis, index)):
        if where is None:
            continue
        op, on = np.zeros(len(fp), np.uint64), np.zeros(len(fp), np.uint64)
        for b, to in enumerate(where):
            if to >= 0:
                one, shift = np.uint64(1), np.uint64(to)
                op |= ((fp[:, f] >> np.uint64(b)) & one) << shift
                on |= ((fn[:, f] >> np.uint64(b)) & one) << shift
        fp[:, f], fn[:, f] = op, on
    terms = [
        [(int(a), int(b)) for a, b in zip(rp, rn, strict=True)]
        for rp, rn in zip(fp, fn, strict=True)
        if np.all((rp | rn) != 0)
    ]
    changed = True
    while changed:
        changed = False
        for k1, k2 in ((0, 1), (0, 2), (1, 2)):
            seen: dict[tuple[int, int, int, int], int] = {}
            for t, term in enumerate(terms):
                a, b = (term[k1], term[k2]) if not f2 else ((term[k1][0], 0), (term[k2][0], 0))
                ka, kb = _signed_key(*a), _signed_key(*b)
                key = (ka[0], ka[1], kb[0], kb[1])
                s = seen.setdefault(key, t)
                if s == t:
                    continue
                k3 = 3 - k1 - k2
                sign_s = _signed_key(*terms[s][k1])[2] * _signed_key(*terms[s][k2])[2]
                yp, yn = terms[t][k3] if sign_s * ka[2] * kb[2] > 0 or f2 else terms[t][k3][::-1]
                total = _add(domain, *terms[s][k3], yp, yn)
                if total is None:
                    continue
                if total[0] | total[1]:
                    terms[s][k3] = total
                    del terms[t]
                else:
                    del terms[max(s, t)], terms[min(s, t)]
                changed = True
                break
            if changed:
                break
    shape = (len(terms), 3)
    out_p = np.array([[f[0] for f in t] for t in terms], np.uint64).reshape(shape)
    out_n = np.array([[f[1] for f in t] for t in terms], np.uint64).reshape(shape)
    return Packed(out_p, out_n, domain)


class MetaSearcher(FlipPoolSearcher):
    """flip-pool in the target format plus walks one index larger (projected back) and one index
    smaller (extended back), with resets and merges of other workers' bests."""

    name = "meta"
    Params = MetaParams
    summary = (
        "flip-pool walks (with the flip-pool options) in the format and one index larger or smaller along "
        "n, m, p, projected or extended back; resets to the best and merges other workers' bests (meta moves)"
    )

    def __init__(
        self, tensor: Tensor, domain: str, params: MetaParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from ..pool import PoolSearch  # numba loads with the searcher, not with the command line

        self.steps = 0
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.meta_rng = np.random.default_rng([seed, 5])
        self.pending: list[Packed] = []  # received neighbour schemes moved into the target, reported next step
        self.walks: dict[str, _Walk] = {self.label: _Walk(self.label, tensor, None, 0, self.search)}
        self.neighbours: list[_Walk] = []  # larger ones first, then smaller ones
        fmt = tensor.fmt
        if fmt is None:
            return
        starts = [p for members in self.search.snapshot().values() for p in members]
        plan = [(axis, 1) for axis in range(3)[: params.neighbours]]
        plan += [(axis, -1) for axis in range(3) if fmt[axis] > 2][: params.smaller_neighbours]
        for axis, step in plan:
            other = tuple(fmt[d] + step * (d == axis) for d in range(3))
            big = matmul_tensor(other)  # type: ignore[arg-type]
            if max(big.shape) > MAX_WIDTH:
                continue
            walk = _Walk(format_name(other), big, axis, step, None)  # type: ignore[arg-type]
            seeds: dict[int, list[Packed]] = {}
            for s in starts:
                for moved in self._from_target(walk, s, every_index=False):
                    seeds.setdefault(moved.rank, []).append(moved)
            salt = 2 + axis if step > 0 else 6 + axis
            walk.search = PoolSearch(
                seeds, domain, params, int(np.random.SeedSequence([seed, salt]).generate_state(1)[0])
            )
            self.neighbours.append(walk)
            self.walks[walk.label] = walk
        # the lowest rank each walk has passed on to the others: only a new lowest is moved
        self.moved = {label: w.search.best_rank for label, w in self.walks.items()}

    def _work(self) -> int:
        return sum(w.search.flips for w in self.walks.values())

    def format_pools(self) -> dict[tuple[str, int], list[Packed]]:
        """Every pool of every walk, keyed by (format, rank): the target's first, lowest rank first."""
        return {
            (label, rank): members
            for label, walk in self.walks.items()
            for rank, members in sorted(walk.search.snapshot().items())
        }

    def _to_target(self, nb: _Walk, packed: Packed) -> list[Packed]:
        """A neighbour's scheme moved into the target format (a larger one's with each index of its
        extra axis deleted, a smaller one's extended), those below the target's best, highest rank
        first."""
        if nb.step > 0:
            fmt = nb.tensor.fmt
            moved = [project_packed(packed, fmt, nb.axis, i) for i in range(fmt[nb.axis])]  # type: ignore[arg-type, index]
        else:
            moved = [pack(extend(unpack(packed, nb.tensor), nb.axis), self.domain)]  # type: ignore[arg-type]
        out = [m for m in moved if 0 < m.rank < self.search.best_rank]
        return sorted(out, key=lambda p: -p.rank)

    def _from_target(self, nb: _Walk, packed: Packed, every_index: bool = True) -> list[Packed]:
        """A target scheme moved into a neighbour format: extended into a larger one, projected
        (at every index, or at the last one) into a smaller one."""
        if nb.step > 0:
            return [pack(extend(unpack(packed, self.tensor), nb.axis), self.domain)]  # type: ignore[arg-type]
        fmt = self.tensor.fmt
        indices = range(fmt[nb.axis]) if every_index else [fmt[nb.axis] - 1]  # type: ignore[index]
        moved = [project_packed(packed, fmt, nb.axis, i) for i in indices]  # type: ignore[arg-type]
        return [m for m in moved if m.rank > 0]

    def _fresh(self, walk: _Walk, found: list[Packed]) -> list[Packed]:
        """The lowest of ``found`` when it is a new lowest rank of the walk to pass on, else nothing."""
        if not found or found[-1].rank >= self.moved[walk.label]:
            return []
        self.moved[walk.label] = found[-1].rank
        return found[-1:]

    def _share(self, found: list[Packed]) -> None:
        """A new lowest rank of the target, moved into every neighbour's pools."""
        for packed in self._fresh(self.walks[self.label], found):
            for nb in self.neighbours:
                for moved in self._from_target(nb, packed):
                    nb.search.adopt(moved, restart=False)

    def _reset_if_drifted(self, walk: _Walk) -> None:
        """The reset move: a walk more than ``reset_drift`` above its format's lowest rank goes back to it."""
        s = walk.search
        low = s.best_rank
        if s.walk_rank - low <= self.params.reset_drift:
            return
        members = s.snapshot()[low]
        s.restart_from(members[int(self.meta_rng.integers(len(members)))])
        self.counts["resets"] += 1

    def step(self, budget: int) -> list[Report]:
        self.steps += 1
        every = self.params.meta_every + 1
        pending = [p for p in self.pending if p.rank <= self.search.best_rank]
        self.pending = []
        if not (self.neighbours and self.steps % every == 0):
            self._reset_if_drifted(self.walks[self.label])
            found = self._walk(budget)
            self._share(found)
            reports = [Report(self._candidate(p), self._work()) for p in pending + found]
            return sorted(reports, key=lambda r: -r.candidate.rank)
        nb = self.neighbours[(self.steps // every) % len(self.neighbours)]
        self._reset_if_drifted(nb)
        before = nb.search.flips
        found = []
        while nb.search.flips - before < budget and not found:
            flips = nb.search.flips
            found = nb.search.step()
            if nb.search.flips == flips and not found:
                break
        reports = [Report(self._candidate(p), self._work()) for p in pending]
        for packed in self._fresh(nb, found):
            for low in self._to_target(nb, packed):
                if low.rank < self.search.best_rank:
                    self.search.adopt(low, restart=True)
                    self.counts["projected"] += 1
                    reports.append(Report(self._candidate(low), self._work()))
        return sorted(reports, key=lambda r: -r.candidate.rank)

    def receive(self, message: Candidate) -> None:
        """Merge another worker's best (see the module docstring); anything else is counted as ignored."""
        walk = self.walks.get(message.target)
        if message.packed is None or walk is None or message.packed.domain != self.domain:
            self.counts["ignored"] += 1
            return
        if walk.axis is None:
            super().receive(message)
            if self.neighbours and self.meta_rng.random() < self.params.merge_best:
                nb = self.neighbours[int(self.meta_rng.integers(len(self.neighbours)))]
                moved = self._from_target(nb, message.packed)
                if moved:
                    nb.search.adopt(moved[int(self.meta_rng.integers(len(moved)))], restart=True)
                    self.counts["merged"] += 1
            return
        from flipforge.verify import verify

        try:
            scheme = unpack(message.packed, walk.tensor)
            valid = verify(scheme, self.domain).valid
        except (SchemeError, ValueError, IndexError):
            valid = False
        if not valid:
            self.counts["ignored"] += 1
            return
        walk.search.adopt(message.packed, restart=False)
        for low in self._to_target(walk, message.packed):
            if low.rank < self.search.best_rank:
                self.search.adopt(low, restart=bool(self.meta_rng.random() < self.params.merge_best))
                self.pending.append(low)
                self.counts["merged"] += 1

    def progress(self) -> MetaProgress:
        base = super().progress()
        formats = {label: {r: len(m) for r, m in w.search.snapshot().items()} for label, w in self.walks.items()}
        return MetaProgress(base.work, base.rank, base.pools, base.current, base.cost, formats, dict(self.counts))

    def snapshot(self) -> dict[str, Any]:
        formats = {}
        for walk in self.neighbours:
            state = walk.search.state()
            state["pools"] = {r: [Candidate(walk.label, packed=p) for p in m] for r, m in state["pools"].items()}
            formats[walk.label] = state
        return {
            **super().snapshot(),
            "steps": self.steps,
            "meta_rng": self.meta_rng.bit_generator.state,
            "meta_counters": [self.counts[k] for k in COUNTERS],
            "pending": [self._candidate(p) for p in self.pending],
            "moved": dict(self.moved),
            "formats": formats,
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        state = dict(snapshot)
        self.steps = int(state.pop("steps"))
        self.meta_rng.bit_generator.state = state.pop("meta_rng")
        self.counts = dict(zip(COUNTERS, (int(x) for x in state.pop("meta_counters")), strict=True))
        self.pending = [c.packed for c in state.pop("pending")]
        self.moved = {str(k): int(v) for k, v in state.pop("moved").items()}
        formats = state.pop("formats")
        if set(formats) != {w.label for w in self.neighbours}:
            raise ValueError(f"a snapshot of walks in {sorted(formats)}, not in {[w.label for w in self.neighbours]}")
        for walk in self.neighbours:
            sub = formats[walk.label]
            pools = {int(r): [c.packed for c in m] for r, m in sub["pools"].items()}
            walk.search.set_state({**sub, "pools": pools})
        super().restore(state)
