"""Additions of a scheme, and fewer of them by common-subexpression elimination (CSE).

A scheme evaluates three families of linear forms: the left factors u_t(A), the right factors
v_t(B), and the outputs c_e = sum_t w[t, e] m_t over the products. Naive additions are
sum (nnz - 1) over all forms. CSE repeatedly picks a pair ``x_i + r x_j`` that occurs (up to a
common factor) in at least two forms, computes it once as a fresh variable and substitutes it:
each use saves one addition, the fresh variable costs one.

Methods: ``greedy`` takes the most frequent pair (ties broken by a fixed order); ``random``
restarts the greedy search with random tie-breaking and keeps the best program. Both are
deterministic for a given seed and number of restarts.

The program stays in the scheme's ring: for integer coefficients (ZT, Z, or a finite field's
0/±1 representatives) only integer ratios are used, so a pair ``2 x_i + x_j`` becomes the fresh
variable ``x_j + 2 x_i``, never ``x_i + 1/2 x_j``; integer input then gives integers throughout.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

import networkx as nx

from .errors import SchemeError
from .scheme import Scheme

__all__ = ["LinearProgram", "ReducedScheme", "reduce_additions", "METHODS", "family_forms", "program_dag", "dag_shape"]

METHODS = ("greedy", "random")
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
    """The three programs of a scheme: u over A's entries, v over B's, outputs over the products."""

    scheme: Scheme
    u: LinearProgram
    v: LinearProgram
    w: LinearProgram
    method: str
    naive: int

    @property
    def additions(self) -> int:
        return self.u.additions + self.v.additions + self.w.additions


def _coef(x: object) -> Coef:
    q = x if isinstance(x, Fraction) else Fraction(int(x))  # type: ignore[arg-type]
    return int(q) if q.denominator == 1 else q


def family_forms(scheme: Scheme) -> tuple[list[Form], list[Form], list[Form]]:
    """The forms of u (per term), v (per term) and the outputs (per entry of C^T, over terms)."""
    u = [{i: _coef(c) for i, c in enumerate(row) if c != 0} for row in scheme.u]
    v = [{j: _coef(c) for j, c in enumerate(row) if c != 0} for row in scheme.v]
    w = [{t: _coef(c) for t, c in enumerate(col) if c != 0} for col in scheme.w.T]
    return u, v, w


def _pairs(forms: list[Form], integral: bool) -> Counter:
    """How often each pair ``x_i + r x_j`` occurs (up to a common factor) in the forms. With
    ``integral`` a pair is oriented so that r is an integer, and skipped when neither r nor 1/r is."""
    counts: Counter = Counter()
    for f in forms:
        items = sorted(f.items())
        for a in range(len(items)):
            i, ci = items[a]
            for b in range(a + 1, len(items)):
                j, cj = items[b]
                ratio = Fraction(cj) / Fraction(ci)
                if not integral or ratio.denominator == 1:
                    counts[(i, j, ratio)] += 1
                elif ratio.numerator in (1, -1):
                    counts[(j, i, 1 / ratio)] += 1
    return counts


def _cse(inputs: list[str], forms: list[Form], rng: random.Random | None, integral: bool = False) -> LinearProgram:
    prog = LinearProgram(list(inputs), [], [dict(f) for f in forms])
    nvars = len(inputs)
    while True:
        counts = _pairs(prog.outputs, integral)
        if not counts:
            break
        top = max(counts.values())
        if top < 2:
            break
        best = [k for k, c in counts.items() if c == top]
        i, j, ratio = rng.choice(sorted(best)) if rng else min(best)
        new = nvars + len(prog.temps)
        prog.temps.append((i, j, int(ratio) if ratio.denominator == 1 else ratio))
        for f in prog.outputs:
            if i in f and j in f and Fraction(f[j]) / Fraction(f[i]) == ratio:
                f[new] = f.pop(i)
                del f[j]
    return prog


def reduce_additions(
    scheme: Scheme,
    method: str = "greedy",
    *,
    seed: int = 0,
    restarts: int = 20,
    seconds: float | None = None,
    integral: bool | None = None,
) -> ReducedScheme:
    """CSE on the three families; ``random`` tries ``restarts`` seeds (or until ``seconds``).

    ``integral`` (default: the scheme's coefficients are all integers) keeps every fresh variable
    an integer combination, so that the program stays inside Z.
    """
    if method not in METHODS:
        raise SchemeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
        raise SchemeError(f"restarts must be a whole number of at least 0, not {restarts!r}")
    if seconds is not None and not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
        raise SchemeError(f"the time limit must be a finite number of seconds, at least 0, not {seconds!r}")
    ints = scheme.is_integral if integral is None else integral
    names_a, names_b, _ = scheme.tensor.entry_names()
    u_forms, v_forms, w_forms = family_forms(scheme)
    m_names = [f"m{t + 1}" for t in range(scheme.rank)]
    naive = sum(max(len(f) - 1, 0) for f in (*u_forms, *v_forms, *w_forms))
    families = ((names_a, u_forms), (names_b, v_forms), (m_names, w_forms))
    best = [_cse(inputs, forms, None, ints) for inputs, forms in families]
    if method == "random":
        t0 = time.perf_counter()
        for k in range(restarts):
            if seconds is not None and time.perf_counter() - t0 > seconds:
                break
            rng = random.Random(seed * 1_000_003 + k)
            for f, (inputs, forms) in enumerate(families):
                cand = _cse(inputs, forms, rng, ints)
                if cand.additions < best[f].additions:
                    best[f] = cand
    return ReducedScheme(scheme, best[0], best[1], best[2], method, naive)


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
