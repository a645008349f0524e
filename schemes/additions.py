"""Additions of a scheme, and fewer of them by common-subexpression elimination (CSE).

A scheme evaluates three families of linear forms: the left factors u_t(A), the right factors
v_t(B), and the outputs c_e = sum_t w[t, e] m_t over the products. Naive additions are
sum (nnz - 1) over all forms. CSE repeatedly picks a pair ``x_i + r x_j`` that occurs (up to a
common factor) in at least two forms, computes it once as a fresh variable and substitutes it:
each use saves one addition, the fresh variable costs one.

Methods: ``greedy`` takes the most frequent pair (ties broken by a fixed order); ``random``
restarts the greedy search with random tie-breaking and keeps the best program. Both are
deterministic for a given seed and number of restarts.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from .errors import SchemeError
from .scheme import Scheme

__all__ = ["LinearProgram", "ReducedScheme", "reduce_additions", "METHODS", "family_forms"]

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


def _pairs(forms: list[Form]) -> Counter:
    counts: Counter = Counter()
    for f in forms:
        items = sorted(f.items())
        for a in range(len(items)):
            i, ci = items[a]
            for b in range(a + 1, len(items)):
                j, cj = items[b]
                counts[(i, j, Fraction(cj) / Fraction(ci))] += 1
    return counts


def _cse(inputs: list[str], forms: list[Form], rng: random.Random | None) -> LinearProgram:
    prog = LinearProgram(list(inputs), [], [dict(f) for f in forms])
    nvars = len(inputs)
    while True:
        counts = _pairs(prog.outputs)
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
) -> ReducedScheme:
    """CSE on the three families; ``random`` tries ``restarts`` seeds (or until ``seconds``)."""
    if method not in METHODS:
        raise SchemeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    names_a, names_b, _ = scheme.tensor.entry_names()
    u_forms, v_forms, w_forms = family_forms(scheme)
    m_names = [f"m{t + 1}" for t in range(scheme.rank)]
    naive = sum(max(len(f) - 1, 0) for f in (*u_forms, *v_forms, *w_forms))
    families = ((names_a, u_forms), (names_b, v_forms), (m_names, w_forms))
    best = [_cse(inputs, forms, None) for inputs, forms in families]
    if method == "random":
        t0 = time.perf_counter()
        for k in range(restarts):
            if seconds is not None and time.perf_counter() - t0 > seconds:
                break
            rng = random.Random(seed * 1_000_003 + k)
            for f, (inputs, forms) in enumerate(families):
                cand = _cse(inputs, forms, rng)
                if cand.additions < best[f].additions:
                    best[f] = cand
    return ReducedScheme(scheme, best[0], best[1], best[2], method, naive)


def check_program(reduced: ReducedScheme) -> None:
    """Raise SchemeError unless every program computes exactly the scheme's forms."""
    for prog, forms in zip((reduced.u, reduced.v, reduced.w), family_forms(reduced.scheme), strict=True):
        for got, want in zip(prog.outputs, forms, strict=True):
            if prog.expand(got) != {k: Fraction(c) for k, c in want.items()}:
                raise SchemeError("internal error: the reduced program does not compute the scheme")
