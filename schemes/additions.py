"""Additions of a scheme, and fewer of them by common-subexpression elimination (CSE).

A scheme evaluates three families of linear forms: the left factors u_t(A), the right factors
v_t(B), and the outputs c_e = sum_t w[t, e] m_t over the products. Naive additions are
sum (nnz - 1) over all forms. CSE repeatedly picks a pair ``x_i + r x_j`` that occurs (up to a
common factor) in at least two forms, computes it once as a fresh variable and substitutes it:
each use saves one addition, the fresh variable costs one. Which pair to take, and in which
order, is the whole problem; the methods differ only there.

Methods (each deterministic for a given seed):

- ``greedy``: the most frequent pair, ties to the smallest (i, j, r).
- ``random``: greedy with random tie-breaks, ``restarts`` times; the best program is kept.
- ``lookahead``: the pilot method: at each step the ``width`` most frequent pairs are each
  tried and the program finished greedily; the pair with the shortest finished program is taken.
- ``anneal``: simulated annealing over elimination orders (a program is the vector of which
  candidate, by rank, each step takes; a move changes one entry), ``restarts`` runs.
- ``exact``: branch and bound over every elimination order, with the greedy/anneal program as
  the first bound; when it finishes (``proved``) no order of pair eliminations does better.
  Its space is the one all methods search (pair CSE), not every straight-line program.
- ``bp``: signed Boyar–Peralta (``slp``), which leaves pair CSE: it grows a base of signed sums
  and may cancel terms; on the forms and on their transpose, ``restarts`` runs each, for families
  with coefficients -1, 0, 1 only; the lookahead program is kept where it is shorter (and for
  every other family).

The program stays in the scheme's ring: for integer coefficients (ZT, Z, or a finite field's
0/±1 representatives) only integer ratios are used, so a pair ``2 x_i + x_j`` becomes the fresh
variable ``x_j + 2 x_i``, never ``x_i + 1/2 x_j``; integer input then gives integers throughout.
The kernels (``cse_kernels``) run on integer forms; a form with fractions is scaled by its
common denominator first (a scale does not change which pairs it holds) and scaled back after.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

import networkx as nx
import numpy as np

from .cse_kernels import cse_anneal, cse_pilot, cse_run, seed_state
from .errors import SchemeError
from .scheme import Scheme

__all__ = [
    "LinearProgram",
    "ReducedScheme",
    "reduce_additions",
    "METHODS",
    "family_forms",
    "program_dag",
    "dag_shape",
    "peak_temporaries",
]

METHODS = ("greedy", "random", "lookahead", "anneal", "exact", "bp")
Coef = int | Fraction
Form = dict[int, Coef]


@dataclass
class LinearProgram:
    """A straight-line program for one family of linear forms.

    Variables 0..len(inputs)-1 are the inputs; temp k is variable len(inputs)+k and equals
    ``x_i + ratio * x_j``. ``outputs[f]`` is form f over inputs and temps.
    """

    inputs: list[str]
    temps: list[tuple[int, int, Coef]] = field(default_factory=list)
    outputs: list[Form] = field(default_factory=list)

    @property
    def additions(self) -> int:
        return len(self.temps) + sum(max(len(f) - 1, 0) for f in self.outputs)

    def name(self, var: int, temp_prefix: str) -> str:
        return self.inputs[var] if var < len(self.inputs) else f"{temp_prefix}{var - len(self.inputs) + 1}"

    def expand(self, form: Form) -> dict[int, Fraction]:
        """The form rewritten over the inputs only (for checking a program)."""
        out: dict[int, Fraction] = {}
        stack = [(v, Fraction(c)) for v, c in form.items()]
        while stack:
            v, c = stack.pop()
            if v < len(self.inputs):
                out[v] = out.get(v, Fraction(0)) + c
            else:
                i, j, r = self.temps[v - len(self.inputs)]
                stack += [(i, c), (j, c * r)]
        return {v: c for v, c in out.items() if c}


@dataclass
class ReducedScheme:
    """The three programs of a scheme: u over A's entries, v over B's, outputs over the products.
    ``proved`` is True when the exact method finished: no order of pair eliminations does better."""

    scheme: Scheme
    u: LinearProgram
    v: LinearProgram
    w: LinearProgram
    method: str
    naive: int
    proved: bool | None = None

    @property
    def additions(self) -> int:
        return self.u.additions + self.v.additions + self.w.additions

    @property
    def temporaries(self) -> int:
        """The most fresh variables alive at once in any of the three programs."""
        return max(peak_temporaries(p) for p in (self.u, self.v, self.w))


def _coef(x: object) -> Coef:
    q = x if isinstance(x, Fraction) else Fraction(int(x))  # type: ignore[arg-type]
    return int(q) if q.denominator == 1 else q


def family_forms(scheme: Scheme) -> tuple[list[Form], list[Form], list[Form]]:
    """The forms of u (per term), v (per term) and the outputs (per entry of C^T, over terms)."""
    u = [{i: _coef(c) for i, c in enumerate(row) if c != 0} for row in scheme.u]
    v = [{j: _coef(c) for j, c in enumerate(row) if c != 0} for row in scheme.v]
    w = [{t: _coef(c) for t, c in enumerate(col) if c != 0} for col in scheme.w.T]
    return u, v, w


def _pair_key(ci: Coef, cj: Coef, i: int, j: int, integral: bool) -> tuple[int, int, Fraction] | None:
    """The pair ``x_i + r x_j`` (up to a factor) that coefficients ci of x_i and cj of x_j form;
    with ``integral`` oriented so that r is an integer, None when neither r nor 1/r is."""
    ratio = Fraction(cj) / Fraction(ci)
    if not integral or ratio.denominator == 1:
        return (i, j, ratio)
    if ratio.numerator in (1, -1):
        return (j, i, 1 / ratio)
    return None


def _pairs(forms: list[Form], integral: bool) -> Counter:
    """How often each pair ``x_i + r x_j`` occurs (up to a common factor) in the forms."""
    counts: Counter = Counter()
    for f in forms:
        items = sorted(f.items())
        for a in range(len(items)):
            i, ci = items[a]
            for b in range(a + 1, len(items)):
                j, cj = items[b]
                key = _pair_key(ci, cj, i, j, integral)
                if key is not None:
                    counts[key] += 1
    return counts


def _substitute(forms: list[Form], i: int, j: int, ratio: Fraction, new: int) -> None:
    """Replace ``c x_i + c r x_j`` by ``c x_new`` in every form that holds it."""
    for f in forms:
        if i in f and j in f and Fraction(f[j]) / Fraction(f[i]) == ratio:
            f[new] = f.pop(i)
            del f[j]


def _cse(inputs: list[str], forms: list[Form], rng: random.Random | None, integral: bool = False) -> LinearProgram:
    """Greedy CSE over exact fractions (schemes with non-integer coefficients); random ties with rng."""
    prog = LinearProgram(list(inputs), [], [dict(f) for f in forms])
    nvars = len(inputs)
    while True:
        counts = _pairs(prog.outputs, integral)
        top = max(counts.values(), default=0)
        if top < 2:
            break
        best = [k for k, c in counts.items() if c == top]
        i, j, ratio = rng.choice(sorted(best)) if rng else min(best)
        new = nvars + len(prog.temps)
        prog.temps.append((i, j, int(ratio) if ratio.denominator == 1 else ratio))
        _substitute(prog.outputs, i, j, ratio, new)
    return prog


class _Family:
    """One family as the kernels see it: integer forms (each scaled by its common denominator)
    in a dense matrix with room for every fresh variable CSE can make."""

    def __init__(self, inputs: list[str], forms: list[Form]) -> None:
        self.inputs = list(inputs)
        self.scales = [math.lcm(*(Fraction(c).denominator for c in f.values())) if f else 1 for f in forms]
        nnz = sum(len(f) for f in forms)
        self.nin = len(inputs)
        self.F = np.zeros((len(forms), self.nin + nnz // 2 + 1), dtype=np.int64)
        for row, (f, d) in enumerate(zip(forms, self.scales, strict=True)):
            for v, c in f.items():
                self.F[row, v] = int(Fraction(c) * d)
        self.rmax = int(np.abs(self.F).max(initial=1))

    def program(self, F: np.ndarray, temps: np.ndarray, nt: int) -> LinearProgram:
        outputs = []
        for row, d in zip(F, self.scales, strict=True):
            outputs.append({int(v): _coef(Fraction(int(row[v]), d)) for v in np.flatnonzero(row)})
        return LinearProgram(list(self.inputs), [(int(a), int(b), int(r)) for a, b, r in temps[:nt]], outputs)

    def run(self, mode: int, seed: int = 0, temp: float = 1.0, script: np.ndarray | None = None) -> LinearProgram:
        F = self.F.copy()
        temps = np.zeros((F.shape[1], 3), dtype=np.int64)
        rng = seed_state(seed)
        sc = np.zeros(0, dtype=np.int64) if script is None else script
        nt = cse_run(F, self.nin, self.rmax, mode, temp, rng, sc, temps)
        return self.program(F, temps, nt)

    def pilot(self, width: int) -> LinearProgram:
        F = self.F.copy()
        temps = np.zeros((F.shape[1], 3), dtype=np.int64)
        nt = cse_pilot(F, self.nin, self.rmax, width, temps)
        return self.program(F, temps, nt)

    def anneal(self, seed: int, iters: int) -> LinearProgram:
        script = np.zeros(self.F.shape[1], dtype=np.int64)
        cse_anneal(self.F, self.nin, self.rmax, iters, 1.0, 0.05, seed_state(seed), script)
        return self.run(3, script=script)


def _exact(
    inputs: list[str], forms: list[Form], integral: bool, bound: LinearProgram, deadline: float, max_nodes: int
) -> tuple[LinearProgram, bool]:
    """Branch and bound over every order of pair eliminations; (best program, finished).

    A state's future depends only on its forms (written over the inputs), so a state met again
    with as many temps or more is cut; so is one whose temps plus its distinct unfinished forms
    (each needs one more addition at least) cannot beat the best program found."""
    best = [bound.additions, bound]
    seen: dict[tuple, int] = {}
    nodes = [0]
    nin = len(inputs)

    def expand(temps: list, var: int) -> tuple:
        return tuple(sorted(LinearProgram(inputs, temps).expand({var: 1}).items()))

    def state_key(temps: list, outs: list[Form]) -> tuple:
        exp = {v: expand(temps, v) for f in outs for v in f}
        return tuple(sorted(tuple(sorted((exp[v], Fraction(c)) for v, c in f.items())) for f in outs))

    def distinct_unfinished(outs: list[Form]) -> int:
        keys = set()
        for f in outs:
            if len(f) > 1:
                items = sorted(f.items())
                c0 = Fraction(items[0][1])
                keys.add(tuple((v, Fraction(c) / c0) for v, c in items))
        return len(keys)

    def search(temps: list, outs: list[Form]) -> bool:
        nodes[0] += 1
        if nodes[0] > max_nodes or (nodes[0] % 256 == 0 and time.perf_counter() > deadline):
            return False
        if len(temps) + distinct_unfinished(outs) >= best[0]:
            return True
        key = state_key(temps, outs)
        if seen.get(key, 1 << 30) <= len(temps):
            return True
        seen[key] = len(temps)
        counts = _pairs(outs, integral)
        repeated = sorted((k for k, c in counts.items() if c >= 2), key=lambda k: (-counts[k], k))
        if not repeated:
            prog = LinearProgram(list(inputs), list(temps), [dict(f) for f in outs])
            if prog.additions < best[0]:
                best[0], best[1] = prog.additions, prog
            return True
        for i, j, ratio in repeated:
            nxt = [dict(f) for f in outs]
            _substitute(nxt, i, j, ratio, nin + len(temps))
            if not search([*temps, (i, j, int(ratio) if ratio.denominator == 1 else ratio)], nxt):
                return False
        return True

    finished = search([], [dict(f) for f in forms])
    return best[1], finished


def reduce_additions(
    scheme: Scheme,
    method: str = "greedy",
    *,
    seed: int = 0,
    restarts: int = 20,
    seconds: float | None = None,
    integral: bool | None = None,
    width: int = 4,
    iters: int = 3000,
    max_nodes: int = 2_000_000,
) -> ReducedScheme:
    """CSE on the three families by ``method`` (see the module docstring).

    ``restarts``: runs of random/anneal/bp (stopped early after ``seconds``); ``width``: pairs tried
    per step by lookahead; ``iters``: annealing moves per run; ``max_nodes`` and ``seconds``
    bound the exact search. ``integral`` (default: the scheme's coefficients are all integers)
    keeps every fresh variable an integer combination, so that the program stays inside Z.
    """
    if method not in METHODS:
        raise SchemeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if scheme.is_complex:
        raise SchemeError("CSE works on rational schemes only; this scheme has complex (Q(i)) coefficients")
    if scheme.domain is not None and scheme.domain.is_extension:
        raise SchemeError(
            f"CSE works on rational schemes only; this one holds element indices of {scheme.domain}, not numbers"
        )
    for name, value, low in (
        ("restarts", restarts, 0),
        ("width", width, 1),
        ("iters", iters, 1),
        ("max_nodes", max_nodes, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SchemeError(f"{name} must be a whole number of at least {low}, not {value!r}")
    if seconds is not None and not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
        raise SchemeError(f"the time limit must be a finite number of seconds, at least 0, not {seconds!r}")
    ints = scheme.is_integral if integral is None else integral
    names_a, names_b, _ = scheme.tensor.entry_names()
    u_forms, v_forms, w_forms = family_forms(scheme)
    m_names = [f"m{t + 1}" for t in range(scheme.rank)]
    naive = sum(max(len(f) - 1, 0) for f in (*u_forms, *v_forms, *w_forms))
    families = ((names_a, u_forms), (names_b, v_forms), (m_names, w_forms))
    kernels = [_Family(inputs, forms) for inputs, forms in families]
    on_kernel = ints and scheme.is_integral
    best = [k.run(0) for k in kernels] if on_kernel else [_cse(fam[0], fam[1], None, ints) for fam in families]
    t0 = time.perf_counter()

    def out_of_time() -> bool:
        return seconds is not None and time.perf_counter() - t0 > seconds

    def keep(f: int, cand: LinearProgram) -> None:
        if cand.additions < best[f].additions:
            best[f] = cand

    proved = None
    if method == "random":
        for k in range(restarts):
            if out_of_time():
                break
            for f, (inputs, forms) in enumerate(families):
                s = seed * 1_000_003 + k
                keep(f, kernels[f].run(1, s) if on_kernel else _cse(inputs, forms, random.Random(s), ints))
    elif method in ("lookahead", "bp"):
        for f, fam in enumerate(kernels):
            keep(f, fam.pilot(width))
    elif method in ("anneal", "exact"):
        for k in range(restarts if method == "anneal" else min(restarts, 4)):
            if out_of_time():
                break
            for f, fam in enumerate(kernels):
                keep(f, fam.anneal(seed * 1_000_003 + k, iters))
    if method == "exact":
        deadline = math.inf if seconds is None else t0 + seconds
        done = []
        for f, (inputs, forms) in enumerate(families):
            prog, finished = _exact(inputs, forms, ints, best[f], deadline, max_nodes)
            keep(f, prog)
            done.append(finished)
        proved = all(done)
    if method == "bp" and on_kernel:
        from .slp import signed_bp_program

        deadline = math.inf if seconds is None else t0 + seconds
        for f, (inputs, forms) in enumerate(families):
            prog = signed_bp_program(inputs, forms, seed=seed, restarts=max(restarts, 1), deadline=deadline)
            if prog is not None:
                keep(f, prog)
    return ReducedScheme(scheme, best[0], best[1], best[2], method, naive, proved)


def peak_temporaries(prog: LinearProgram) -> int:
    """The most fresh variables alive at once when the temps run in order and each output is
    formed as soon as its last variable exists (a temp dies after its last use)."""
    nin, nt = len(prog.inputs), len(prog.temps)
    last_use = [-1] * nt
    for k, (i, j, _) in enumerate(prog.temps):
        for v in (i, j):
            if v >= nin:
                last_use[v - nin] = max(last_use[v - nin], k)
    for form in prog.outputs:
        ready = max((v - nin for v in form if v >= nin), default=-1)
        for v in form:
            if v >= nin:
                last_use[v - nin] = max(last_use[v - nin], ready)
    alive = peak = 0
    dies: Counter = Counter(last_use)
    for k in range(nt):
        alive += 1
        peak = max(peak, alive)
        alive -= dies[k]
    return peak


def check_program(reduced: ReducedScheme) -> None:
    """Raise SchemeError unless every program computes exactly the scheme's forms, and, for a
    scheme with integer coefficients, uses integer coefficients only (stays inside Z)."""
    integral = reduced.scheme.is_integral
    for prog, forms in zip((reduced.u, reduced.v, reduced.w), family_forms(reduced.scheme), strict=True):
        if integral and not _integer_program(prog):
            raise SchemeError("internal error: the reduced program of an integer scheme uses fractions")
        for got, want in zip(prog.outputs, forms, strict=True):
            if prog.expand(got) != {k: Fraction(c) for k, c in want.items()}:
                raise SchemeError("internal error: the reduced program does not compute the scheme")


def _integer_program(prog: LinearProgram) -> bool:
    """Every ratio of a fresh variable and every coefficient of an output is an integer."""
    coefs = [r for _, _, r in prog.temps] + [c for f in prog.outputs for c in f.values()]
    return all(Fraction(c).denominator == 1 for c in coefs)


def program_dag(reduced: ReducedScheme) -> nx.DiGraph:
    """The whole algorithm as a DAG: entries of A and B, the temps and forms of the u and v
    programs, the products, the temps of the w program and the entries of C. Each node's
    ``cost`` is the levels it adds to a path: 1 for a temp or a product, ⌈log2 k⌉ for a form
    summing k variables (a balanced tree of additions), 0 for an input or a copied variable."""
    dag = nx.DiGraph()

    def family(prog: LinearProgram, tag: str, inputs: list[tuple]) -> list[tuple]:
        names = list(inputs)
        for k, (i, j, _) in enumerate(prog.temps):
            node = (tag, "temp", k)
            dag.add_node(node, cost=1)
            dag.add_edges_from([(names[i], node), (names[j], node)])
            names.append(node)
        outs = []
        for f, form in enumerate(prog.outputs):
            node = (tag, "form", f)
            dag.add_node(node, cost=math.ceil(math.log2(len(form))) if len(form) > 1 else 0)
            dag.add_edges_from((names[v], node) for v in form)
            outs.append(node)
        return outs

    a_in = [("a", i) for i in range(len(reduced.u.inputs))]
    b_in = [("b", i) for i in range(len(reduced.v.inputs))]
    dag.add_nodes_from(a_in + b_in, cost=0)
    us, vs = family(reduced.u, "u", a_in), family(reduced.v, "v", b_in)
    products = [("m", r) for r in range(len(us))]
    for m, u, v in zip(products, us, vs, strict=True):
        dag.add_node(m, cost=1)
        dag.add_edges_from([(u, m), (v, m)])
    family(reduced.w, "w", products)
    return dag


def dag_shape(reduced: ReducedScheme) -> tuple[int, int]:
    """(depth, width): the most levels on any path from an input to an output (the critical
    path, in additions and one multiplication) and the most operations on one level."""
    dag = program_dag(reduced)
    level: dict[tuple, int] = {}
    for node in nx.topological_sort(dag):
        before = max((level[p] for p in dag.predecessors(node)), default=0)
        level[node] = before + dag.nodes[node]["cost"]
    width: Counter = Counter(level[n] for n in dag if dag.nodes[n]["cost"] > 0)
    return max(level.values(), default=0), max(width.values(), default=0)
