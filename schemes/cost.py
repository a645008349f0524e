"""The operation count of a scheme under a cost model, and of its recursive use.

Models (``MODELS``):

- ``ring``: additions (and subtractions) of the three linear maps after CSE, in the ring the
  scheme is counted in; constant multiplications (``scalings``: program coefficients other
  than +1 and -1) are reported beside them but cost nothing.
- ``xor``: the scheme reduced mod 2 (coefficients 0/1; it must hold over F2) and an XOR
  circuit for each map: every addition is one XOR. Besides the pair-CSE methods of
  ``additions`` there is ``bp``, the Boyar–Peralta heuristic for short linear programs over
  F2, which may cancel (x1+x2 and x2+x3 give x1+x3): with random tie-breaks it keeps the best
  of ``restarts`` runs per map, tried on the map and on its transpose (by the transposition
  principle a circuit for M^T with g XORs gives one for M with g + outputs(M^T) - inputs(M^T):
  the decoder of a scheme, 16 outputs over 47 products for <4,4,4>:47, is found as an encoder
  of 47 outputs over 16 inputs), and it never does worse than pair CSE (``lookahead``), which
  it also runs.
- ``mixed``: ring additions plus scalings (hardware where a constant multiply costs an add).

The recursive constant: using a square <n,n,n> scheme of rank r > n^2 with ``a`` operations
(the model's count) on N = n^k, T(N) = r T(N/n) + a (N/n)^2 and T(1) = 1 give
T(N) = c N^(log_n r) - (c - 1) N^2 with c = 1 + a / (r - n^2): Strassen (r 7, a 18) 7,
Strassen-Winograd (a 15) 6.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numba import njit

from .additions import METHODS, LinearProgram, ReducedScheme, check_program, dag_shape, family_forms, reduce_additions
from .coeffs import residues
from .cse_kernels import below, seed_state
from .domain import Domain
from .errors import SchemeError
from .scheme import Scheme

__all__ = [
    "MODELS",
    "COST_METHODS",
    "BP_MAX_INPUTS",
    "Recursive",
    "Cost",
    "scheme_cost",
    "recursive_cost",
    "recursive_operations",
    "scalings",
    "reduce_mod",
    "xor_program",
    "check_program_mod2",
]

MODELS = ("ring", "xor", "mixed")
COST_METHODS = tuple(dict.fromkeys((*METHODS, "bp")))
BP_MAX_INPUTS = 20
"""Boyar–Peralta keeps the distance of every vector of F2^inputs (a table of 2^inputs bytes):
a map whose inputs and outputs both exceed this gets pair CSE only."""


@dataclass(frozen=True)
class Recursive:
    """T(N) = constant * N^exponent - (constant - 1) * N^2 for N = n^k (see the module docstring)."""

    n: int
    rank: int
    operations: int
    constant: Fraction

    @property
    def exponent(self) -> float:
        return math.log(self.rank) / math.log(self.n)

    def total(self, k: int) -> Fraction:
        """T(n^k) from the closed form (an integer)."""
        return self.constant * self.rank**k - (self.constant - 1) * self.n ** (2 * k)


def recursive_cost(n: int, rank: int, operations: int) -> Recursive | None:
    """The closed form of the recursion for an <n,n,n> scheme, None unless rank > n^2."""
    if n < 2 or rank <= n * n:
        return None
    return Recursive(n, rank, operations, 1 + Fraction(operations, rank - n * n))


def recursive_operations(n: int, rank: int, operations: int, k: int) -> int:
    """T(n^k) by the recursion itself: T(1) = 1, T(N) = rank T(N/n) + operations (N/n)^2."""
    total = 1
    for level in range(1, k + 1):
        total = rank * total + operations * n ** (2 * (level - 1))
    return total


def scalings(prog: LinearProgram) -> int:
    """Multiplications by constants: fresh-variable ratios and output coefficients not +1 or -1."""
    coefs = [r for _, _, r in prog.temps] + [c for form in prog.outputs for c in form.values()]
    return sum(1 for c in coefs if c not in (1, -1))


def reduce_mod(scheme: Scheme, p: int) -> Scheme:
    """The scheme's coefficients as residues mod p, in (-p/2, p/2] (0/1 for p = 2), claimed over F_p."""
    out = []
    for arr in scheme.factors:
        res = residues(arr, p)
        if res is None:
            raise SchemeError(f"a coefficient has a denominator divisible by {p}")
        out.append(np.where(res > p // 2, res - p, res).astype(np.int64))
    return Scheme(scheme.tensor, out[0], out[1], out[2], Domain.parse(f"F{p}"), dict(scheme.meta))


# ---- Boyar–Peralta over F2 -------------------------------------------------------------------


@njit(cache=True)
def _bp_kernel(nin: int, todo_in: np.ndarray, near: bool, randomize: bool, state: np.ndarray, gates: np.ndarray) -> int:
    """One Boyar–Peralta run (see ``_bp_run``): the gates into the rows (a, b) of ``gates``; their number."""
    size = 1 << nin
    dist = np.zeros(size, dtype=np.int8)  # fewest base elements summing to each vector
    for x in range(1, size):
        dist[x] = dist[x >> 1] + (x & 1)
    is_todo = np.zeros(size, dtype=np.bool_)
    in_base = np.zeros(size, dtype=np.bool_)
    todo = todo_in.copy()
    ntodo = todo.size
    for k in range(ntodo):
        is_todo[todo[k]] = True
    base = np.empty(nin + gates.shape[0], dtype=np.int64)
    for i in range(nin):
        base[i] = 1 << i
        in_base[1 << i] = True
    nb = nin
    ng = 0
    while ntodo > 0:
        pa = -1
        pb = -1
        ties = 0
        if near:  # a target one gate away is taken at once
            for a in range(nb):
                for b in range(a + 1, nb):
                    if is_todo[base[a] ^ base[b]]:
                        ties += 1
                        if ties == 1 or (randomize and below(state, ties) == 0):
                            pa = a
                            pb = b
        if pa < 0:
            best_total = 1 << 60
            best_norm = -1
            for a in range(nb):
                for b in range(a + 1, nb):
                    v = base[a] ^ base[b]
                    if in_base[v]:
                        continue
                    total = 0
                    norm = 0
                    for k in range(ntodo):
                        t = todo[k]
                        d = np.int64(dist[t])
                        e = np.int64(dist[v ^ t]) + 1
                        if e < d:
                            d = e
                        total += d - 1
                        norm += (d - 1) * (d - 1)
                        if total > best_total:
                            break
                    if total < best_total or (total == best_total and norm > best_norm):
                        best_total = total
                        best_norm = norm
                        ties = 1
                        pa = a
                        pb = b
                    elif total == best_total and norm == best_norm:
                        ties += 1
                        if randomize and below(state, ties) == 0:
                            pa = a
                            pb = b
        v = base[pa] ^ base[pb]
        gates[ng, 0] = pa
        gates[ng, 1] = pb
        ng += 1
        base[nb] = v
        nb += 1
        in_base[v] = True
        for x in range(size):
            e = dist[x ^ v] + 1
            if e < dist[x]:
                dist[x] = e
        if is_todo[v]:
            is_todo[v] = False
            k = 0
            for j in range(ntodo):
                if todo[j] != v:
                    todo[k] = todo[j]
                    k += 1
            ntodo = k
    return ng


def _bp_run(nin: int, targets: list[int], seed: int | None, near: bool = True) -> list[tuple[int, int]]:
    """One Boyar–Peralta run: gates (a, b) over base indices (0..nin-1 the inputs, nin+k gate k)
    until every target is a base element. Each gate adds two base elements: with ``near`` a
    target one gate away is taken at once (Boyar–Peralta's rule), else the pair with the least
    sum of distances to the targets, ties to the largest Euclidean norm of the distances, then to
    the first candidate, or (given a ``seed``) a random one."""
    todo = np.array(sorted({t for t in targets if t & (t - 1)}), dtype=np.int64)
    gates = np.zeros((max(sum(bin(int(t)).count("1") - 1 for t in todo), 1), 2), dtype=np.int64)
    ng = _bp_kernel(nin, todo, near, seed is not None, seed_state(seed or 0), gates)
    return [(int(a), int(b)) for a, b in gates[:ng]]


def _live(nin: int, gates: list[tuple[int, int]], outs: list[int]) -> list[bool]:
    """Which base elements an output needs (a gate no output needs is dropped)."""
    live = [False] * (nin + len(gates))
    for v in outs:
        live[v] = True
    for k in range(len(gates) - 1, -1, -1):
        if live[nin + k]:
            a, b = gates[k]
            live[a] = live[b] = True
    return live


def _vectors(rows: np.ndarray) -> list[int]:
    """0/1 rows as bit masks (bit i = column i)."""
    weights = [1 << i for i in range(rows.shape[1])]
    return [sum(w for w, x in zip(weights, row, strict=True) if x) for row in rows.tolist()]


def _direct(inputs: list[str], M: np.ndarray, gates: list[tuple[int, int]]) -> LinearProgram:
    """The program of a BP circuit computing the rows of M (dead gates dropped)."""
    nin = M.shape[1]
    targets = _vectors(M)
    value = [1 << i for i in range(nin)]
    for a, b in gates:
        value.append(value[a] ^ value[b])
    where = {v: i for i, v in reversed(list(enumerate(value)))}
    outs = [where[t] for t in targets if t]
    live = _live(nin, gates, outs)
    var: dict[int, int] = {i: i for i in range(nin)}
    prog = LinearProgram(list(inputs))
    for k, (a, b) in enumerate(gates):
        if live[nin + k]:
            var[nin + k] = nin + len(prog.temps)
            prog.temps.append((var[a], var[b], 1))
    prog.outputs = [{var[where[t]]: 1} if t else {} for t in targets]
    return prog


def _transposed(inputs: list[str], M: np.ndarray, gates: list[tuple[int, int]]) -> LinearProgram:
    """The program for M from a BP circuit for M^T (inputs y_i = the rows of M): every node of
    that circuit becomes the sum of its uses (the gates that read it and the columns it outputs)."""
    nrows, ncols = M.shape
    cols = _vectors(M.T)
    value = [1 << i for i in range(nrows)]
    for a, b in gates:
        value.append(value[a] ^ value[b])
    where = {v: i for i, v in reversed(list(enumerate(value)))}
    col_node = [where[c] if c else -1 for c in cols]
    live = _live(nrows, gates, [v for v in col_node if v >= 0])
    uses: list[list[tuple[str, int]]] = [[] for _ in value]
    for j, v in enumerate(col_node):
        if v >= 0:
            uses[v].append(("x", j))
    for k, (a, b) in enumerate(gates):
        if live[nrows + k]:
            uses[a].append(("g", nrows + k))
            uses[b].append(("g", nrows + k))
    prog = LinearProgram(list(inputs))
    var: dict[int, int | None] = {}
    for node in range(len(value) - 1, -1, -1):
        if node >= nrows and not live[node]:
            continue
        terms = [ref if kind == "x" else var[ref] for kind, ref in uses[node]]
        terms = [t for t in terms if t is not None]
        acc = terms[0] if terms else None
        for t in terms[1:]:
            prog.temps.append((acc, t, 1))  # type: ignore[arg-type]
            acc = ncols + len(prog.temps) - 1
        var[node] = acc
    prog.outputs = [{var[i]: 1} if var[i] is not None else {} for i in range(nrows)]  # type: ignore[dict-item]
    return prog


def xor_program(
    inputs: list[str],
    M: np.ndarray,
    *,
    restarts: int = 50,
    seed: int = 0,
    deadline: float = math.inf,
) -> LinearProgram | None:
    """The shortest XOR program Boyar–Peralta finds for the rows of the 0/1 matrix M (forms x
    inputs), on M or on M^T, in ``restarts`` runs of each of two variants (with and without the
    rule that takes a target one gate away at once; the first run of each breaks ties to the
    first candidate, the others at random); None when both the inputs and the forms exceed
    ``BP_MAX_INPUTS``."""
    M = np.asarray(M, dtype=np.int64) & 1
    best: LinearProgram | None = None
    sides = [(False, M)] if M.shape[1] <= BP_MAX_INPUTS else []
    if M.shape[0] <= BP_MAX_INPUTS:
        sides.append((True, M.T))
    for k in range(max(restarts, 1)):
        if k and time.perf_counter() > deadline:
            break
        for (transposed, X), near in itertools.product(sides, (True, False)):
            run_seed = None if k == 0 else ((seed * 1_000_003 + k) * 2 + int(transposed)) * 2 + int(near)
            gates = _bp_run(X.shape[1], _vectors(X), run_seed, near)
            prog = _transposed(inputs, M, gates) if transposed else _direct(inputs, M, gates)
            if best is None or prog.additions < best.additions:
                best = prog
    return best


def check_program_mod2(reduced: ReducedScheme) -> None:
    """Raise SchemeError unless every program computes the scheme's forms mod 2."""
    for prog, forms in zip((reduced.u, reduced.v, reduced.w), family_forms(reduced.scheme), strict=True):
        for got, want in zip(prog.outputs, forms, strict=True):
            have = {v for v, c in prog.expand(got).items() if c.denominator == 1 and c.numerator % 2}
            if have != {v for v, c in want.items() if Fraction(c) % 2 == 1}:
                raise SchemeError("internal error: the XOR program does not compute the scheme mod 2")


# ---- the cost of a scheme --------------------------------------------------------------------


@dataclass
class Cost:
    """A scheme's operation count under a model; ``reduced`` holds the three programs."""

    model: str
    domain: str
    reduced: ReducedScheme
    scalings: tuple[int, int, int]
    pair_only: tuple[str, ...] = ()  # under bp: the families (A, B, C) too large for Boyar–Peralta

    @property
    def additions(self) -> int:
        return self.reduced.additions

    @property
    def families(self) -> tuple[int, int, int]:
        r = self.reduced
        return (r.u.additions, r.v.additions, r.w.additions)

    @property
    def operations(self) -> int:
        """What one application costs besides its multiplications: additions (XORs), plus the
        scalings under ``mixed``."""
        return self.additions + (sum(self.scalings) if self.model == "mixed" else 0)

    def shape(self) -> tuple[int, int]:
        """(depth, width) of the whole program as a DAG (``additions.dag_shape``)."""
        return dag_shape(self.reduced)

    @property
    def recursive(self) -> Recursive | None:
        fmt = self.reduced.scheme.fmt
        if fmt is None or len(set(fmt)) != 1:
            return None
        return recursive_cost(fmt[0], self.reduced.scheme.rank, self.operations)


def scheme_cost(
    scheme: Scheme,
    model: str = "ring",
    method: str = "lookahead",
    *,
    domain: Domain | str | None = None,
    seed: int = 0,
    restarts: int = 50,
    seconds: float | None = None,
) -> Cost:
    """Count ``scheme`` under ``model`` with the CSE ``method`` (``bp`` under ``xor`` only).

    ``domain`` is the ring the scheme was verified in (default: its claim, else its
    coefficients'); over a field F_p the coefficients are taken mod p first. Under ``xor`` the
    scheme is reduced mod 2 and must hold over F2 (SchemeError otherwise). Validity in
    ``domain`` is the caller's check (``flipforge.verify``); every program is checked here.
    """
    from flipforge.verify import verify

    if model not in MODELS:
        raise SchemeError(f"unknown cost model {model!r}: use one of {', '.join(MODELS)}")
    if method not in COST_METHODS:
        raise SchemeError(f"unknown method {method!r}: use one of {', '.join(COST_METHODS)}")
    if method == "bp" and model != "xor":
        raise SchemeError("the bp method counts XORs over F2: use it with the xor model")
    dom = Domain.parse(domain) if domain is not None else scheme.domain
    if model == "xor":
        try:
            counted = reduce_mod(scheme, 2)
        except SchemeError as exc:
            raise SchemeError(f"the scheme does not hold over F2 ({exc}), so it has no XOR count") from None
        if not verify(counted, "F2").valid:
            raise SchemeError("the scheme does not hold over F2 (its coefficients mod 2 fail), so it has no XOR count")
        dom_name = "F2"
    elif dom is not None and dom.p is not None:
        counted, dom_name = reduce_mod(scheme, dom.p), str(dom)
    else:
        from .metrics import coefficient_class

        counted, dom_name = scheme, str(dom) if dom is not None else coefficient_class(scheme)
    t0 = time.perf_counter()
    pair_method = "lookahead" if method == "bp" else method
    reduced = reduce_additions(counted, pair_method, seed=seed, restarts=max(restarts, 1), seconds=seconds)
    check_program(reduced)
    pair_only: list[str] = []
    if method == "bp":
        deadline = math.inf if seconds is None else t0 + seconds
        u_forms, v_forms, w_forms = family_forms(counted)
        progs = []
        for side, prog, forms, width in (
            ("A", reduced.u, u_forms, len(reduced.u.inputs)),
            ("B", reduced.v, v_forms, len(reduced.v.inputs)),
            ("C", reduced.w, w_forms, len(reduced.w.inputs)),
        ):
            M = np.zeros((len(forms), width), dtype=np.int64)
            for row, form in enumerate(forms):
                for var, c in form.items():
                    M[row, var] = int(c) & 1
            bp = xor_program(prog.inputs, M, restarts=restarts, seed=seed, deadline=deadline)
            if bp is None:
                pair_only.append(side)
            progs.append(bp if bp is not None and bp.additions < prog.additions else prog)
        reduced = ReducedScheme(counted, progs[0], progs[1], progs[2], "bp", reduced.naive)
    if model == "xor":
        check_program_mod2(reduced)
    scale = (scalings(reduced.u), scalings(reduced.v), scalings(reduced.w))
    return Cost(model, dom_name, reduced, scale, tuple(pair_only))
