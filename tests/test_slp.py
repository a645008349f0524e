"""Signed Boyar–Peralta (``slp``) and the ``bp`` method of ``reduce_additions``: exact integral
programs, determinism, never worse than pair CSE, strictly better where cancellation pays, and
the exact helper search that proves a count optimal among ±x±y programs."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Scheme, read_schemes
from flipforge.schemes.additions import (
    LinearProgram,
    ReducedScheme,
    _Family,
    check_program,
    family_forms,
    reduce_additions,
)
from flipforge.schemes.slp import (
    direct_program,
    exact_gates,
    exact_program,
    signed_bp_pilot,
    signed_bp_program,
    signed_bp_run,
    transposed_program,
)
from hypothesis import given, settings
from hypothesis import strategies as st

COLLECTION = Path(__file__).resolve().parents[1] / "schemes" / "collection"
PERMINOV_ZT = Path("perminov_fmm") / "schemes" / "results" / "addition_reduced_ZT"

# Four forms over x0..x3 where cancellation pays: pair CSE (greedy and lookahead) needs 6
# additions, signed BP 5 (x2 - x3, then f1 = x0 + it, f4 = x1 + it, f3 = x2 - x1, f2 = f1 - f3).
CANCEL = [{0: 1, 2: 1, 3: -1}, {0: 1, 1: 1, 3: -1}, {1: -1, 2: 1}, {1: 1, 2: 1, 3: -1}]


def _evaluate(prog: LinearProgram, x: list[int]) -> list[int]:
    """The program run on integer inputs (temps in order), independent of ``expand``."""
    vals = list(x)
    for i, j, r in prog.temps:
        assert Fraction(r).denominator == 1
        vals.append(vals[i] + int(r) * vals[j])
    return [sum(int(c) * vals[v] for v, c in out.items()) for out in prog.outputs]


def _assert_computes(prog: LinearProgram, forms: list[dict[int, int]], nin: int, seed: int = 0) -> None:
    """Exact expansion and a numeric run agree with the forms; every coefficient is an integer."""
    assert len(prog.outputs) == len(forms)
    for got, want in zip(prog.outputs, forms, strict=True):
        assert prog.expand(got) == {k: Fraction(c) for k, c in want.items() if c}
    rng = random.Random(seed)
    x = [rng.randint(-50, 50) for _ in range(nin)]
    assert _evaluate(prog, x) == [sum(c * x[v] for v, c in f.items()) for f in forms]


def _pair_cse(nin: int, forms: list[dict[int, int]]) -> tuple[int, int]:
    fam = _Family([f"x{i}" for i in range(nin)], forms)
    return fam.run(0).additions, fam.pilot(4).additions


def _small_schemes() -> dict[str, Scheme]:
    return {
        "strassen": Scheme.strassen(),
        "winograd": Scheme.strassen_winograd(),
        "naive 2x2x3": Scheme.naive("2x2x3"),
        "naive 3x3x3": Scheme.naive("3x3x3"),
        "collection 3x3x3": read_schemes(COLLECTION / "3x3x3-r23-ZT-sparse.json")[0],
    }


# ---- the bp method on schemes ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(_small_schemes()))
def test_bp_is_exact_integral_and_never_worse_than_pair_cse(name):
    s = _small_schemes()[name]
    r = reduce_additions(s, "bp", seed=3, restarts=3)
    check_program(r)
    for prog, forms in zip((r.u, r.v, r.w), family_forms(s), strict=True):
        _assert_computes(prog, forms, len(prog.inputs))
    assert r.additions <= reduce_additions(s, "greedy").additions
    assert r.additions <= reduce_additions(s, "lookahead").additions
    assert r.method == "bp"


def test_bp_known_counts():
    assert reduce_additions(Scheme.strassen(), "bp", restarts=2).additions == 18
    assert reduce_additions(Scheme.strassen_winograd(), "bp", restarts=2).additions == 15
    (s,) = read_schemes(COLLECTION / "3x3x3-r23-ZT-sparse.json")
    r = reduce_additions(s, "bp", restarts=2)
    assert (r.u.additions, r.v.additions, r.w.additions) == (16, 14, 30)


def test_bp_is_deterministic_per_seed():
    (s,) = read_schemes(COLLECTION / "3x3x3-r23-ZT-sparse.json")
    a = reduce_additions(s, "bp", seed=7, restarts=4)
    b = reduce_additions(s, "bp", seed=7, restarts=4)
    for p, q in zip((a.u, a.v, a.w), (b.u, b.v, b.w), strict=True):
        assert p.temps == q.temps and p.outputs == q.outputs
    M = np.array([[1, 1, -1, 0, 1], [0, 1, 1, -1, 1], [1, 0, -1, 1, 1], [1, -1, 0, 1, 0]])
    assert signed_bp_run(M, 5, near=False) == signed_bp_run(M, 5, near=False)


def test_bp_falls_back_to_lookahead_off_the_integers():
    s = Scheme.strassen()
    u, w = s.u.astype(object), s.w.astype(object)
    u[0] = u[0] * 2
    w[0] = w[0] * Fraction(1, 2)
    q = Scheme.from_arrays((2, 2, 2), u, s.v, w, "Q")
    r = reduce_additions(q, "bp", restarts=2)
    check_program(r)
    assert r.additions == reduce_additions(q, "lookahead").additions


# ---- signed BP where it beats pair CSE -----------------------------------------------------------


def test_bp_beats_pair_cse_where_cancellation_pays():
    assert _pair_cse(4, CANCEL) == (6, 6)
    prog = signed_bp_program([f"x{i}" for i in range(4)], CANCEL, restarts=1)
    assert prog is not None and prog.additions == 5
    _assert_computes(prog, CANCEL, 4)
    exact, least = exact_program([f"x{i}" for i in range(4)], CANCEL)
    assert exact is not None and exact.additions == least == 5  # and 5 is the least there is


def test_bp_beats_pair_cse_on_the_collection_555_left_factors():
    """5x5x5 rank 93 (ZT): the A family, 93 forms over 25 entries: one BP run gives 97 additions,
    pair CSE 121 (greedy) and 110 (lookahead)."""
    (s,) = read_schemes(COLLECTION / "5x5x5-r93-ZT.json")
    forms = family_forms(s)[0]
    names = s.tensor.entry_names()[0]
    greedy, lookahead = _pair_cse(len(names), forms)
    M = np.zeros((len(forms), len(names)), dtype=np.int64)
    for row, f in enumerate(forms):
        for v, c in f.items():
            M[row, v] = c
    prog = direct_program(names, M, signed_bp_run(M, None, near=True))
    _assert_computes(prog, forms, len(names))
    assert (greedy, lookahead, prog.additions) == (121, 110, 97)


@pytest.mark.parametrize(
    "name, published, want",
    [("3x3x3_m23_cr58_cn122_ZT_reduced.json", 58, 55), ("4x4x4_m49_cr159_fv100_cn474_ZT_reduced.json", 159, 156)],
)
def test_bp_beats_perminovs_published_counts(reference, name, published, want):
    path = reference / PERMINOV_ZT / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    (s,) = read_schemes(path)
    r = reduce_additions(s, "bp", restarts=1)
    check_program(r)
    assert r.additions == want < published <= reduce_additions(s, "lookahead").additions


# ---- programs from circuits, on random ternary forms -----------------------------------------------

ternary = st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.lists(st.lists(st.sampled_from((-1, 0, 0, 1)), min_size=n, max_size=n), min_size=1, max_size=7).map(
        lambda rows: np.array(rows, dtype=np.int64)
    )
)


def _forms(M: np.ndarray) -> list[dict[int, int]]:
    return [{int(v): int(row[v]) for v in np.flatnonzero(row)} for row in M]


@settings(max_examples=60, deadline=None)
@given(ternary, st.integers(min_value=0, max_value=3))
def test_signed_bp_programs_are_exact_on_random_ternary_forms(M, seed):
    nrows, nin = M.shape
    forms = _forms(M)
    names = [f"x{i}" for i in range(nin)]
    naive = sum(max(len(f) - 1, 0) for f in forms)
    for near in (True, False):
        direct = direct_program(names, M, signed_bp_run(M, seed or None, near))
        _assert_computes(direct, forms, nin, seed)
        assert direct.additions <= naive
        trans = transposed_program(names, M, signed_bp_run(M.T, seed or None, near))
        _assert_computes(trans, forms, nin, seed)
    best = signed_bp_program(names, forms, seed=seed, restarts=2)
    assert best is not None and best.additions <= min(direct.additions, naive)
    _assert_computes(best, forms, nin, seed)
    pilot = direct_program(names, M, signed_bp_pilot(M, 3))
    _assert_computes(pilot, forms, nin, seed)


@settings(max_examples=30, deadline=None)
@given(ternary)
def test_exact_search_is_a_lower_bound_and_its_program_is_exact(M):
    forms = _forms(M)
    names = [f"x{i}" for i in range(M.shape[1])]
    bp = signed_bp_program(names, forms, restarts=1)
    prog, least = exact_program(names, forms, max_helpers=1)
    assert bp is not None
    if least is not None:
        assert least <= bp.additions
    if prog is not None:
        _assert_computes(prog, forms, M.shape[1])
        assert prog.additions <= bp.additions
        if least is not None:
            assert prog.additions == least


def test_exact_proves_the_collection_333_optimal_among_pm_programs():
    """16 + 14 + 30 = 60, what BP finds, is the least for this scheme over programs whose every
    addition is ±x ± y (the C side by the transposition theorem)."""
    (s,) = read_schemes(COLLECTION / "3x3x3-r23-ZT-sparse.json")
    names = s.tensor.entry_names()
    got, progs = [], []
    for inputs, forms in zip((names[0], names[1], [f"m{t}" for t in range(s.rank)]), family_forms(s), strict=True):
        prog, least = exact_program(inputs, forms, max_helpers=2)
        assert prog is not None
        got.append((prog.additions, least))
        progs.append(prog)
    assert got == [(16, 16), (14, 14), (30, 30)]
    check_program(ReducedScheme(s, *progs, "exact", 0))


def test_not_ternary_gives_none():
    assert signed_bp_program(["x", "y"], [{0: 2, 1: 1}]) is None
    assert exact_program(["x", "y"], [{0: 2, 1: 1}]) == (None, None)
    assert exact_gates(np.array([[1, 1, 1]]), 0) == (None, 2)  # x + y + z needs a helper: 2 gates at least
    gates, least = exact_gates(np.array([[1, 1, 1]]), 1)
    assert least == 2 and gates is not None and len(gates) == 2
