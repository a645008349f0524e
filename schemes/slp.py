"""Signed Boyar–Peralta: short straight-line programs over Z for ternary linear forms.

Pair CSE (``additions``) only ever shares a pair ``x_i + r x_j`` that occurs literally in two
forms. Boyar–Peralta (``cost``, over F2) builds a *base* instead: it starts from the inputs and
adds one element ``b_a + b_b`` at a time, chosen to bring the targets closest, and it may cancel
(``x1 + x2`` and ``x2 + x3`` give ``x1 - x3`` as well). This is its ring version for forms with
coefficients in {-1, 0, 1}:

- a new base element is ``b_a + s b_b`` (s = ±1) whose coefficients stay within ``cmax`` (1: the
  base stays ternary), so every fresh variable has ratio ±1 and the program stays inside Z;
- the *size* c(t) of a target t is the fewest distinct base elements whose signed sum is t (its
  distance is c(t) - 1 further additions); a target is done when c(t) = 1, i.e. t = ±b (a
  negated output costs nothing);
- one new element lowers a size by one at most, and ``b_a + s b_b`` lowers c(t) exactly when
  some minimal signed representation of t holds b_a and b_b with relative sign s (but for a
  degenerate case, t = 2 b_a + ..., which the search notices when it meets a shorter one and
  then corrects c(t)). So each step
  enumerates the minimal representations of every target (a depth-first search that branches on
  which base element covers a coordinate of the residual, each set found once) and credits the
  pairs inside them; the pair credited by most targets wins (fewest total distance), ties to the
  largest norm of the distance vector (Boyar–Peralta's rule: finish the nearest targets), then
  to the first or, with a seed, a random one. With ``near`` a pair that finishes a target (c = 2)
  is preferred, as in Boyar–Peralta.

``signed_bp_program`` runs it on the forms and, by the transposition principle (it holds over
any ring), on their transpose: a program for M^T with g additions gives one for M with
g + outputs(M^T) - inputs(M^T) additions, which for the output side of a scheme (few outputs
over many products) is often the shorter way. The kernels use the xorshift RNG of ``cse_kernels``, so a
seed gives the same program on every machine. ``signed_bp_pilot`` adds look-ahead (each step
tries the best few candidates and finishes each run greedily).

``exact_program`` finds the fewest additions among programs whose every addition is ±x ± y
when that is at most a few more than the number of distinct targets (every target needs a gate
of its own; the search is over the few *helper* gates): it proves a BP count optimal, e.g. 60 =
16 + 14 + 30 for ``collection/3x3x3-r23-ZT-sparse.json``, and 156 = 41 + 41 + 74 for
Perminov's <4,4,4>:49 (published 159 with pair CSE).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
from numba import njit

from .additions import Form, LinearProgram
from .cse_kernels import below, seed_state

__all__ = [
    "signed_bp_program",
    "signed_bp_run",
    "signed_bp_pilot",
    "exact_program",
    "exact_gates",
    "direct_program",
    "transposed_program",
    "is_ternary",
    "MAX_REPS",
    "MAX_NODES",
    "MAX_BASE",
]

MAX_REPS = 512
MAX_NODES = 20_000
"""At most MAX_REPS minimal representations of one target are enumerated per step, and after
MAX_NODES search nodes the search stops at the next one found (the pairs of the others go
uncredited): bounds on the work of a step, not on correctness."""
MAX_BASE = 800
"""A side whose inputs plus naive additions exceed this is not run (the kernel keeps a few
arrays indexed by pairs of base elements: 2 MAX_BASE^2 entries)."""


@njit(cache=True)
def _pick_coord(r: np.ndarray, covn: np.ndarray) -> int:
    """The nonzero coordinate of r with the fewest covering base elements (first on ties)."""
    best = -1
    for i in range(r.shape[0]):
        if r[i] != 0 and (best < 0 or covn[i] < covn[best]):
            best = i
    return best


@njit(cache=True)
def _reps(
    t: np.ndarray,
    k: int,
    base: np.ndarray,
    nb: int,
    cov: np.ndarray,
    covn: np.ndarray,
    l1max: int,
    amax: int,
    max_reps: int,
    max_nodes: int,
    forb: np.ndarray,
    res: np.ndarray,
    coord: np.ndarray,
    pos: np.ndarray,
    sgn: np.ndarray,
    chosen: np.ndarray,
    csign: np.ndarray,
    marks: np.ndarray,
    nmarks: np.ndarray,
    out_idx: np.ndarray,
    out_sgn: np.ndarray,
) -> int:
    """The sets of k distinct base elements whose signed sum is t (up to ``max_reps`` of them),
    into the rows of out_idx/out_sgn; their number, or -m when a set of m < k elements sums to t
    (the search stops there: k was not the size of t). After ``max_nodes`` nodes it stops at the
    first set found from then on.

    Depth-first: at each level a nonzero coordinate i of the residual is picked, and the branch
    is which element of the set is the first (in i's cover list) to cover i; the earlier ones
    are excluded below it, so every set is met once."""
    n = t.shape[0]
    for j in range(nb):
        forb[j] = 0
    res[0, :] = t
    coord[0] = _pick_coord(res[0], covn)
    pos[0] = -1
    sgn[0] = -1
    nmarks[0] = 0
    nrep = 0
    nodes = 0
    L = 0
    while L >= 0:
        nodes += 1
        if nodes > max_nodes and nrep > 0:
            return nrep
        i = coord[L]
        if sgn[L] == 1:
            sgn[L] = -1
        else:
            p = pos[L] + 1
            while p < covn[i] and forb[cov[i, p]] > 0:
                p += 1
            if p >= covn[i]:
                for m in range(nmarks[L]):
                    forb[marks[L, m]] -= 1
                L -= 1
                continue
            pos[L] = p
            j = cov[i, p]
            forb[j] += 1  # used here, excluded below the later branches of this level
            marks[L, nmarks[L]] = j
            nmarks[L] += 1
            sgn[L] = 1
        j = cov[i, pos[L]]
        s = sgn[L]
        rem = k - L - 1
        l1 = 0
        mx = 0
        for x in range(n):
            v = res[L, x] - s * base[j, x]
            res[L + 1, x] = v
            a = v if v >= 0 else -v
            l1 += a
            if a > mx:
                mx = a
        chosen[L] = j
        csign[L] = s
        if l1 == 0:
            if rem == 0:
                for x in range(k):
                    out_idx[nrep, x] = chosen[x]
                    out_sgn[nrep, x] = csign[x]
                nrep += 1
                if nrep >= max_reps:
                    return nrep
                continue
            return -(L + 1)
        if rem == 0 or l1 > rem * l1max or mx > rem * amax:
            continue
        L += 1
        coord[L] = _pick_coord(res[L], covn)
        pos[L] = -1
        sgn[L] = -1
        nmarks[L] = 0
    return nrep


@njit(cache=True)
def _sbp_kernel(
    targets: np.ndarray,
    cmax: int,
    near: bool,
    randomize: bool,
    state: np.ndarray,
    max_reps: int,
    max_nodes: int,
    forced: np.ndarray,
    cands: np.ndarray,
    gates: np.ndarray,
) -> int:
    """One signed Boyar–Peralta run over the ternary targets (rows, none 0 or ±unit, none ± another):
    the gates (a, b, s) into ``gates``, new base element = b_a + s b_b; their number, or -1 if
    ``gates`` ran out (it cannot when it has a row per addition of the naive program).

    The first len(forced) gates are the rows of ``forced`` (a run that goes on from a given
    prefix); the best candidates of the step after them, best first, go into the rows of
    ``cands`` (as many as it has; unused rows get a = -1)."""
    T, n = targets.shape
    gmax = gates.shape[0]
    nbmax = n + gmax
    base = np.zeros((nbmax, n), dtype=np.int64)
    cov = np.zeros((n, nbmax), dtype=np.int64)
    covn = np.zeros(n, dtype=np.int64)
    for i in range(n):
        base[i, i] = 1
        cov[i, 0] = i
        covn[i] = 1
    nb = n
    l1max = 1
    amax = 1
    size = np.zeros(T, dtype=np.int64)
    kmax = 1
    for t in range(T):
        for x in range(n):
            size[t] += abs(targets[t, x])
        kmax = max(kmax, size[t])
    todo = np.empty(T, dtype=np.int64)
    ntodo = 0
    for t in range(T):
        if size[t] >= 2:
            todo[ntodo] = t
            ntodo += 1
    nkeys = nbmax * nbmax * 2
    credit = np.zeros(nkeys, dtype=np.int32)
    wsum = np.zeros(nkeys, dtype=np.int32)
    nearf = np.zeros(nkeys, dtype=np.bool_)
    stamp = np.full(nkeys, -1, dtype=np.int64)
    valid = np.zeros(nkeys, dtype=np.int8)  # 0 unknown, 1 within cmax, 2 not
    touched = np.empty(nkeys, dtype=np.int64)
    buf_t = np.empty(4096, dtype=np.int64)
    buf_k = np.empty(4096, dtype=np.int64)
    forb = np.zeros(nbmax, dtype=np.int64)
    res = np.zeros((kmax + 1, n), dtype=np.int64)
    coord = np.zeros(kmax + 1, dtype=np.int64)
    pos = np.zeros(kmax + 1, dtype=np.int64)
    sgn = np.zeros(kmax + 1, dtype=np.int64)
    chosen = np.zeros(kmax + 1, dtype=np.int64)
    csign = np.zeros(kmax + 1, dtype=np.int64)
    marks = np.zeros((kmax + 1, nbmax), dtype=np.int64)
    nmarks = np.zeros(kmax + 1, dtype=np.int64)
    out_idx = np.zeros((max_reps, kmax), dtype=np.int64)
    out_sgn = np.zeros((max_reps, kmax), dtype=np.int64)
    ng = 0
    step = 0
    while ntodo > 0:
        if ng >= gmax:
            return -1
        ntouched = 0
        nbuf = 0
        any_near = False
        for q in range(ntodo):
            t = todo[q]
            while True:
                k = size[t]
                nrep = _reps(
                    targets[t], k, base, nb, cov, covn, l1max, amax, max_reps, max_nodes,
                    forb, res, coord, pos, sgn, chosen, csign, marks, nmarks, out_idx, out_sgn,
                )  # fmt: skip
                if nrep >= 0:
                    break
                size[t] = -nrep  # smaller than thought: search again at the true size
                if size[t] < 2:
                    break
            if size[t] < 2:
                continue
            uid = step * T + t
            w = 2 * k - 3  # the square of its distance falls by this when a pair lowers it
            for r in range(nrep):
                for x in range(k):
                    for y in range(x + 1, k):
                        a = out_idx[r, x]
                        b = out_idx[r, y]
                        s = out_sgn[r, x] * out_sgn[r, y]
                        if a > b:
                            a, b = b, a
                        key = (a * nbmax + b) * 2 + (1 if s > 0 else 0)
                        if stamp[key] == uid:
                            continue
                        if valid[key] == 0:
                            valid[key] = 1
                            nz = 0
                            for z in range(n):
                                c = base[a, z] + s * base[b, z]
                                if c > cmax or c < -cmax:
                                    valid[key] = 2
                                    break
                                if c != 0:
                                    nz += 1
                            if nz == 0:
                                valid[key] = 2
                        if valid[key] != 1:
                            continue
                        stamp[key] = uid
                        if credit[key] == 0:
                            touched[ntouched] = key
                            ntouched += 1
                        credit[key] += 1
                        wsum[key] += w
                        if k == 2:
                            nearf[key] = True
                            any_near = True
                        if nbuf == buf_t.shape[0]:
                            bt = np.empty(2 * nbuf, dtype=np.int64)
                            bk = np.empty(2 * nbuf, dtype=np.int64)
                            bt[:nbuf] = buf_t
                            bk[:nbuf] = buf_k
                            buf_t = bt
                            buf_k = bk
                        buf_t[nbuf] = t
                        buf_k[nbuf] = key
                        nbuf += 1
        if ng == forced.shape[0]:
            for w in range(cands.shape[0]):
                cands[w, 0] = -1
                pick = -1
                for q in range(ntouched):
                    key = touched[q]
                    if credit[key] <= 0 or (near and any_near and not nearf[key]):
                        continue
                    if (
                        pick < 0
                        or credit[key] > credit[pick]
                        or (
                            credit[key] == credit[pick]
                            and (wsum[key] < wsum[pick] or (wsum[key] == wsum[pick] and key < pick))
                        )
                    ):
                        pick = key
                if pick < 0:
                    break
                cands[w, 0] = (pick // 2) // nbmax
                cands[w, 1] = (pick // 2) % nbmax
                cands[w, 2] = 1 if pick % 2 == 1 else -1
                credit[pick] = -credit[pick]  # taken; restored below
            for q in range(ntouched):
                key = touched[q]
                if credit[key] < 0:
                    credit[key] = -credit[key]
        best = -1
        ties = 0
        if ng < forced.shape[0]:
            a = forced[ng, 0]
            b = forced[ng, 1]
            best = (a * nbmax + b) * 2 + (1 if forced[ng, 2] > 0 else 0)
            ntouched_scan = 0
        else:
            ntouched_scan = ntouched
        for q in range(ntouched_scan):
            key = touched[q]
            if near and any_near and not nearf[key]:
                continue
            if best < 0 or credit[key] > credit[best] or (credit[key] == credit[best] and wsum[key] < wsum[best]):
                best = key
                ties = 1
            elif credit[key] == credit[best] and wsum[key] == wsum[best]:
                ties += 1
                if randomize and below(state, ties) == 0:
                    best = key
        if best < 0:
            # no pair within cmax lies in any representation: widen the bound (integral still)
            if cmax >= 64:
                return -1
            cmax += 1
            for q in range(nkeys):
                if valid[q] == 2:
                    valid[q] = 0
            step += 1
            continue
        s = 1 if best % 2 == 1 else -1
        ab = best // 2
        a = ab // nbmax
        b = ab % nbmax
        gates[ng, 0] = a
        gates[ng, 1] = b
        gates[ng, 2] = s
        ng += 1
        l1 = 0
        for z in range(n):
            c = base[a, z] + s * base[b, z]
            base[nb, z] = c
            if c != 0:
                cov[z, covn[z]] = nb
                covn[z] += 1
                ac = c if c > 0 else -c
                l1 += ac
                if ac > amax:
                    amax = ac
        if l1 > l1max:
            l1max = l1
        nb += 1
        for q in range(nbuf):
            if buf_k[q] == best:
                size[buf_t[q]] -= 1
        for q in range(ntouched):
            key = touched[q]
            credit[key] = 0
            wsum[key] = 0
            nearf[key] = False
        m = 0
        for q in range(ntodo):
            if size[todo[q]] >= 2:
                todo[m] = todo[q]
                m += 1
        ntodo = m
        step += 1
    return ng


def _canon(row: np.ndarray) -> tuple[tuple[int, ...], int]:
    """The row up to sign (first nonzero positive) and the sign that gives it back."""
    nz = np.flatnonzero(row)
    sign = -1 if nz.size and row[nz[0]] < 0 else 1
    return tuple(int(x) for x in row * sign), sign


def is_ternary(M: np.ndarray) -> bool:
    """Every entry of M is -1, 0 or 1."""
    return bool(np.all(np.abs(M) <= 1))


def _targets(M: np.ndarray) -> np.ndarray:
    """The distinct rows of M up to sign that need an addition (at least two nonzeros), sorted."""
    M = np.asarray(M, dtype=np.int64)
    if not is_ternary(M):
        raise ValueError("signed Boyar–Peralta takes forms with coefficients -1, 0, 1 only")
    rows = {_canon(row)[0] for row in M if np.count_nonzero(row) >= 2}
    targets = np.array(sorted(rows), dtype=np.int64).reshape(len(rows), M.shape[1])
    naive = int(np.count_nonzero(targets)) - len(rows)
    if M.shape[1] + naive > MAX_BASE:
        raise ValueError(f"too large for signed Boyar–Peralta: {M.shape[1]} inputs and {naive} naive additions")
    return targets


Gate = tuple[int, int, int]


def _kernel_run(
    targets: np.ndarray,
    seed: int | None,
    near: bool,
    cmax: int,
    max_reps: int,
    max_nodes: int,
    forced: list[Gate] = (),  # type: ignore[assignment]
    width: int = 0,
) -> tuple[list[Gate], list[Gate]]:
    """(the gates of one run, the best ``width`` candidates of its step after ``forced``)."""
    naive = int(np.count_nonzero(targets)) - targets.shape[0]
    gates = np.zeros((max(naive, 1), 3), dtype=np.int64)
    cands = np.full((width, 3), -1, dtype=np.int64)
    prefix = np.array(forced, dtype=np.int64).reshape(len(forced), 3)
    ng = _sbp_kernel(
        targets, cmax, near, seed is not None, seed_state(seed or 0), max_reps, max_nodes, prefix, cands, gates
    )
    if ng < 0:
        raise RuntimeError("internal error: signed Boyar–Peralta made more gates than the naive program")
    as_list = [(int(a), int(b), int(s)) for a, b, s in gates[:ng]]
    return as_list, [(int(a), int(b), int(s)) for a, b, s in cands if a >= 0]


def signed_bp_run(
    M: np.ndarray,
    seed: int | None,
    near: bool = True,
    cmax: int = 1,
    max_reps: int = MAX_REPS,
    max_nodes: int = MAX_NODES,
) -> list[Gate]:
    """One signed Boyar–Peralta run for the rows of the ternary matrix M (forms x inputs): gates
    (a, b, s) over base indices (0..n-1 the inputs, n+k gate k), base element b_a + s b_b, until
    every row is ± a base element. Ties go to the first candidate, or with a ``seed`` to a
    random one."""
    return _kernel_run(_targets(M), seed, near, cmax, max_reps, max_nodes)[0]


def signed_bp_pilot(
    M: np.ndarray,
    width: int,
    near: bool = True,
    cmax: int = 1,
    max_reps: int = MAX_REPS,
    max_nodes: int = MAX_NODES,
    deadline: float = math.inf,
) -> list[Gate]:
    """Signed Boyar–Peralta with look-ahead (the pilot method): at each step each of the ``width``
    best candidates is taken and the run finished greedily; the candidate whose finished run is
    shortest is kept (the first on ties). The shortest finished run met is returned; after
    ``deadline`` the current one is finished greedily."""
    targets = _targets(M)
    best, cands = _kernel_run(targets, None, near, cmax, max_reps, max_nodes, [], width)
    prefix: list[Gate] = []
    while cands and time.perf_counter() <= deadline:
        trials = [_kernel_run(targets, None, near, cmax, max_reps, max_nodes, [*prefix, c], width) for c in cands]
        pick = min(range(len(trials)), key=lambda q: len(trials[q][0]))
        if len(trials[pick][0]) < len(best):
            best = trials[pick][0]
        prefix.append(cands[pick])
        cands = trials[pick][1]
    return best


def _values(n: int, gates: list[tuple[int, int, int]]) -> list[np.ndarray]:
    vals = [np.eye(n, dtype=np.int64)[i] for i in range(n)]
    for a, b, s in gates:
        vals.append(vals[a] + s * vals[b])
    return vals


def _where(vals: list[np.ndarray]) -> dict[tuple[int, ...], tuple[int, int]]:
    """Each base value up to sign -> (its first node, the sign that turns the node into it)."""
    where: dict[tuple[int, ...], tuple[int, int]] = {}
    for node, v in enumerate(vals):
        key, sign = _canon(v)
        where.setdefault(key, (node, sign))
    return where


def _live(n: int, gates: list[tuple[int, int, int]], outs: list[int]) -> list[bool]:
    """Which nodes an output needs (a gate no output needs is dropped)."""
    live = [False] * (n + len(gates))
    for v in outs:
        live[v] = True
    for k in range(len(gates) - 1, -1, -1):
        if live[n + k]:
            a, b, _ = gates[k]
            live[a] = live[b] = True
    return live


def direct_program(inputs: list[str], M: np.ndarray, gates: list[tuple[int, int, int]]) -> LinearProgram:
    """The program of a signed BP circuit computing the rows of M (negated outputs are free)."""
    n = M.shape[1]
    where = _where(_values(n, gates))
    outs: list[tuple[int, int] | None] = []
    for row in np.asarray(M, dtype=np.int64):
        if not row.any():
            outs.append(None)
            continue
        key, sign = _canon(row)
        node, nsign = where[key]
        outs.append((node, sign * nsign))
    live = _live(n, gates, [o[0] for o in outs if o is not None])
    var = list(range(n)) + [-1] * len(gates)
    prog = LinearProgram(list(inputs))
    for k, (a, b, s) in enumerate(gates):
        if live[n + k]:
            var[n + k] = n + len(prog.temps)
            prog.temps.append((var[a], var[b], s))
    prog.outputs = [{var[o[0]]: o[1]} if o is not None else {} for o in outs]
    return prog


def transposed_program(inputs: list[str], M: np.ndarray, gates: list[tuple[int, int, int]]) -> LinearProgram:
    """The program for M (forms x inputs) from a signed BP circuit for M^T, whose inputs y_i stand
    for the rows of M: every node becomes the signed sum of its uses (the gates that read it, the
    columns it outputs), a gate b_a + s b_b passing its sum to a and s times it to b."""
    M = np.asarray(M, dtype=np.int64)
    nrows, ncols = M.shape
    where = _where(_values(nrows, gates))
    uses: list[list[tuple[str, int, int]]] = [[] for _ in range(nrows + len(gates))]
    for j in range(ncols):
        col = M[:, j]
        if col.any():
            key, sign = _canon(col)
            node, nsign = where[key]
            uses[node].append(("x", j, sign * nsign))
    for k, (a, b, s) in enumerate(gates):
        uses[a].append(("g", nrows + k, 1))
        uses[b].append(("g", nrows + k, s))
    prog = LinearProgram(list(inputs))
    adj: dict[int, tuple[int, int] | None] = {}  # node -> (variable, sign): its sum is sign * variable
    for node in range(nrows + len(gates) - 1, -1, -1):
        terms: list[tuple[int, int]] = []
        for kind, ref, c in uses[node]:
            if kind == "x":
                terms.append((ref, c))
            elif (got := adj[ref]) is not None:
                terms.append((got[0], got[1] * c))
        if not terms:
            adj[node] = None
            continue
        acc, sign = terms[0]
        for v, c in terms[1:]:
            prog.temps.append((acc, v, sign * c))
            acc = ncols + len(prog.temps) - 1
        adj[node] = (acc, sign)
    prog.outputs = [{got[0]: got[1]} if (got := adj[i]) is not None else {} for i in range(nrows)]
    return prog


def _matrix(nin: int, forms: list[Form]) -> np.ndarray:
    M = np.zeros((len(forms), nin), dtype=np.int64)
    for row, form in enumerate(forms):
        for var, c in form.items():
            if c != int(c):
                raise ValueError("signed Boyar–Peralta takes integer forms only")
            M[row, var] = int(c)
    return M


def _fits(M: np.ndarray) -> bool:
    """Whether the rows of M are small enough for a run (``MAX_BASE``)."""
    rows = {_canon(row)[0] for row in M if np.count_nonzero(row) >= 2}
    return M.shape[1] + sum(sum(1 for x in r if x) - 1 for r in rows) <= MAX_BASE


def signed_bp_program(
    inputs: list[str],
    forms: list[Form],
    *,
    seed: int = 0,
    restarts: int = 20,
    deadline: float = math.inf,
    transpose: bool = True,
    width: int = 0,
    cmax: int = 1,
    max_reps: int = MAX_REPS,
    max_nodes: int = MAX_NODES,
) -> LinearProgram | None:
    """The shortest program signed Boyar–Peralta finds for the forms (over ``inputs``).

    The first round runs both variants (with and without the preference for a pair that
    finishes a target) on the forms and, with ``transpose``, on their transpose, breaking ties to
    the first candidate (with ``width`` > 0 by the pilot method instead); ``restarts`` - 1 more
    rounds break ties at random (reproducible per ``seed``), on the side(s) that did best in the
    first. None unless every coefficient is -1, 0 or 1, or when neither side fits ``MAX_BASE``.
    Rounds after ``deadline`` (a perf_counter time) are skipped."""
    M = _matrix(len(inputs), forms)
    if not is_ternary(M):
        return None
    sides = {
        tr: _targets(M.T if tr else M) for tr in ((False, True) if transpose else (False,)) if _fits(M.T if tr else M)
    }
    best: LinearProgram | None = None
    side_best: dict[bool, int] = {}
    for k in range(max(restarts, 1)):
        if k and time.perf_counter() > deadline:
            break
        if k == 1:  # random rounds only where the first round did best
            top = min(side_best.values())
            sides = {tr: t for tr, t in sides.items() if side_best[tr] == top}
        for (transposed, targets), near in itertools.product(sides.items(), (True, False)):
            X = M.T if transposed else M
            if k == 0 and width > 0:
                gates = signed_bp_pilot(X, width, near, cmax, max_reps, max_nodes, deadline)
            else:
                run_seed = None if k == 0 else ((seed * 1_000_003 + k) * 2 + int(transposed)) * 2 + int(near)
                gates = _kernel_run(targets, run_seed, near, cmax, max_reps, max_nodes)[0]
            prog = transposed_program(inputs, M, gates) if transposed else direct_program(inputs, M, gates)
            side_best[transposed] = min(side_best.get(transposed, prog.additions), prog.additions)
            if best is None or prog.additions < best.additions:
                best = prog
    return best


# ---- the fewest additions, exactly, for small excesses -------------------------------------------


def _key(v: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """v up to sign (first nonzero positive) and the sign that gives v back."""
    for x in v:
        if x:
            return (v, 1) if x > 0 else (tuple(-y for y in v), -1)
    return v, 1


class _Base:
    """Base elements (values), their index up to sign, and the gates that made them."""

    def __init__(self, n: int) -> None:
        self.vals: list[tuple[int, ...]] = [tuple(int(i == j) for j in range(n)) for i in range(n)]
        self.index = {v: i for i, v in enumerate(self.vals)}
        self.gates: list[Gate] = []

    def copy(self) -> _Base:
        other = _Base.__new__(_Base)
        other.vals, other.index, other.gates = list(self.vals), dict(self.index), list(self.gates)
        return other

    def add(self, a: int, b: int, s: int) -> None:
        v = tuple(x + s * y for x, y in zip(self.vals[a], self.vals[b], strict=True))
        self.index.setdefault(_key(v)[0], len(self.vals))
        self.vals.append(v)
        self.gates.append((a, b, s))

    def maker(self, t: tuple[int, ...]) -> Gate | None:
        """A gate ±b_a ± b_c equal to ±t, if any."""
        for a, b in enumerate(self.vals):
            for sa in (1, -1):
                d = tuple(x - sa * y for x, y in zip(t, b, strict=True))
                key, _ = _key(d)
                c = self.index.get(key)
                if c is not None and c != a and any(d):
                    sc = 1 if self.vals[c] == d else -1  # t = sa b_a + sc b_c = sa (b_a + sa sc b_c)
                    return (a, c, sa * sc)
        return None

    def closure(self, missing: set[tuple[int, ...]]) -> None:
        """Make every missing target that is one gate away, until none is (in place)."""
        changed = True
        while changed and missing:
            changed = False
            for t in sorted(missing):
                g = self.maker(t)
                if g is not None:
                    self.add(*g)
                    missing.discard(t)
                    changed = True

    def helpers(self, missing: set[tuple[int, ...]], last: bool) -> list[Gate]:
        """The gates that make a new element; with ``last`` only those after which some missing
        target is one gate away."""
        out = []
        seen = set()
        n = len(self.vals)
        for a in range(n):
            for b in range(a + 1, n):
                for s in (1, -1):
                    h = tuple(x + s * y for x, y in zip(self.vals[a], self.vals[b], strict=True))
                    key, _ = _key(h)
                    if not any(h) or key in self.index or key in seen:
                        continue
                    if last and not any(
                        _key(tuple(x - sg * y for x, y in zip(t, h, strict=True)))[0] in self.index
                        for t in missing
                        for sg in (1, -1)
                    ):
                        continue
                    seen.add(key)
                    out.append((a, b, s))
        return out


def exact_gates(
    M: np.ndarray, max_helpers: int, deadline: float = math.inf, max_nodes: int = 20_000
) -> tuple[list[Gate] | None, int]:
    """The fewest gates ±b_a ± b_b that make every row of M (up to sign) a base element.

    Every distinct row with two nonzeros or more needs a gate of its own, and a row one gate
    away may be made at once (it never hurts), so a shortest program is the targets plus the
    fewest *helpers*: elements that are no target. Iterative deepening on their number (up to
    ``max_helpers``), each helper any new ±b_a ± b_b (the last one only if it brings a target one
    gate away). Returns (the gates of a shortest program or None, the proved least number of
    gates: targets + helpers)."""
    targets = {_key(tuple(int(x) for x in row))[0] for row in np.asarray(M) if np.count_nonzero(row) >= 2}
    nodes = [0]

    def search(base: _Base, missing: set[tuple[int, ...]], h: int) -> _Base | None | bool:
        nodes[0] += 1
        if nodes[0] > max_nodes or time.perf_counter() > deadline:
            return False
        base, missing = base.copy(), set(missing)
        base.closure(missing)
        if not missing:
            return base
        if h == 0:
            return None
        for g in base.helpers(missing, h == 1):
            nxt = base.copy()
            nxt.add(*g)
            got = search(nxt, missing, h - 1)
            if got is not None:
                return got
        return None

    for h in range(max_helpers + 1):
        got = search(_Base(M.shape[1]), targets, h)
        if got is False:
            return None, len(targets) + h
        if isinstance(got, _Base):
            return got.gates, len(targets) + h
    return None, len(targets) + max_helpers + 1


def exact_program(
    inputs: list[str],
    forms: list[Form],
    *,
    max_helpers: int = 2,
    deadline: float = math.inf,
    max_nodes: int = 20_000,
) -> tuple[LinearProgram | None, int | None]:
    """The fewest additions for ternary forms among programs whose every addition is ±x ± y
    (negated outputs free), found exactly (``exact_gates``) on the forms or, when there are fewer
    forms than inputs, on their transpose: (a shortest program or None, the proved least number
    of additions or None). Over the transpose the bound holds by the transposition theorem
    (L(M) = L(M^T) + inputs - forms for M without zero rows or columns), so it is given only then.
    None, None for forms that are not ternary."""
    M = _matrix(len(inputs), forms)
    if not is_ternary(M):
        return None, None
    transposed = M.shape[0] < M.shape[1]
    gates, least = exact_gates(M.T if transposed else M, max_helpers, deadline, max_nodes)
    if transposed:
        ok = bool(M.any(axis=0).all() and M.any(axis=1).all())
        bound = least + M.shape[1] - M.shape[0] if ok else None
        return (transposed_program(inputs, M, gates) if gates is not None else None), bound
    return (direct_program(inputs, M, gates) if gates is not None else None), least
