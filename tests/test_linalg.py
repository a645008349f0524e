"""schemes.linalg (exact linear algebra over F_p and Q, every engine agreeing) and lifting from any F_p."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from flipforge.schemes import DomainError, Scheme, SchemeError, read_schemes, write_schemes
from flipforge.schemes import linalg as la
from flipforge.schemes.coeffs import residues
from flipforge.schemes.symmetry import exact_inverse, isotropy
from flipforge.schemes.tensor import Tensor
from flipforge.verify import verify
from flipforge.verify.lift import lift
from hypothesis import assume, given, settings
from hypothesis import strategies as st

PRIMES = (2, 3, 5, 2**31 - 1, 2**31 + 11)  # 2^31 + 11: above the int64 engine, galois only


def _engines(p: int | None) -> list[str]:
    """Every engine that can run over F_p (Q has one)."""
    if p is None:
        return ["auto"]
    return ["galois"] + (["packed"] if p == 2 else []) + (["int64"] if p < la.INT64_PRIME_LIMIT else [])


@st.composite
def matrices(draw: st.DrawFn, square: bool = False) -> tuple[np.ndarray, int | None]:
    """A small integer matrix and a field (a prime, or None for Q); rows are often repeated or combined."""
    p = draw(st.sampled_from((*PRIMES, None)))
    rows = draw(st.integers(1, 7))
    cols = rows if square else draw(st.integers(1, 7))
    entries = st.integers(-3, 3) if p is None or p < 7 else st.integers(-(2**40), 2**40)
    a = np.array(draw(st.lists(st.lists(entries, min_size=cols, max_size=cols), min_size=rows, max_size=rows)))
    if rows > 1 and draw(st.booleans()):  # a dependent row
        a[-1] = a[0] * draw(st.integers(-2, 2)) + a[1 % rows]
    return a.astype(np.int64), p


def _mul(a: np.ndarray, x: np.ndarray, p: int | None) -> np.ndarray:
    """a @ x exactly (Python ints / Fractions), reduced mod p."""
    out = np.asarray(a, dtype=object) @ np.asarray(x, dtype=object)
    return out % p if p else out


@settings(max_examples=60, deadline=None)
@given(matrices())
def test_rank_of_a_equals_rank_of_its_transpose_and_every_engine_agrees(case):
    a, p = case
    results = {e: la.row_reduce(a, p, e) for e in _engines(p)}
    (rref, pivots), *others = results.values()
    for other_rref, other_pivots in others:
        assert other_pivots == pivots and np.array_equal(other_rref, rref)
    assert len(pivots) == la.rank(a.T, p) <= min(a.shape)
    assert la.rank(a, p) == len(pivots)


@settings(max_examples=60, deadline=None)
@given(matrices(), st.data())
def test_solve_returns_a_solution_when_there_is_one_and_none_otherwise(case, data):
    a, p = case
    y = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=a.shape[1], max_size=a.shape[1])))
    b = _mul(a, y, p)  # consistent by construction
    xs = [la.solve(a, b, p, e) for e in _engines(p)]
    for x in xs:
        assert x is not None and np.array_equal(_mul(a, x, p), b)
        assert np.array_equal(x, xs[0])  # free variables 0: one answer whichever engine
    c = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=a.shape[0], max_size=a.shape[0])))
    consistent = la.rank(np.column_stack([a, c]), p) == la.rank(a, p)
    for e in _engines(p):
        x = la.solve(a, c, p, e)
        assert (x is not None) == consistent
        if x is not None:
            assert np.array_equal(_mul(a, x, p), c % p if p else c)


@settings(max_examples=60, deadline=None)
@given(matrices())
def test_the_nullspace_is_killed_by_a_and_has_dimension_n_minus_rank(case):
    a, p = case
    for e in _engines(p):
        basis = la.nullspace(a, p, e)
        assert basis.shape == (a.shape[1] - la.rank(a, p), a.shape[1])
        if basis.size:
            assert not np.any(_mul(a, basis.T, p)) and la.rank(basis, p) == basis.shape[0]


@settings(max_examples=60, deadline=None)
@given(matrices(square=True))
def test_the_inverse_times_a_is_the_identity(case):
    a, p = case
    assume(la.rank(a, p) == a.shape[0])
    eye = np.eye(a.shape[0], dtype=np.int64)
    for e in _engines(p):
        inv = la.inverse(a, p, e)
        assert np.array_equal(_mul(inv, a, p), eye) and np.array_equal(_mul(a, inv, p), eye)


def test_a_solver_replays_many_right_hand_sides_and_matrices_of_them():
    a = np.array([[1, 2, 0], [0, 1, 1], [1, 3, 1]])  # rank 2 over every field and Q
    for p in (None, 2, 3, 7):
        s = la.Solver(a, p)
        assert s.rank == 2 and s.pivots == [0, 1]
        b = np.column_stack([a @ [1, 1, 1], a @ [2, 0, 1]])
        x = s.solve(b)
        assert x is not None and x.shape == (3, 2) and np.array_equal(_mul(a, x, p), b % p if p else b)
        assert s.solve([1, 0, 0]) is None  # row 3 = row 1 + row 2


def test_q_has_exact_fractions():
    inv = la.inverse([[2, 0], [1, 1]], None)
    assert inv.tolist() == [[Fraction(1, 2), 0], [Fraction(-1, 2), 1]]
    assert exact_inverse(np.array([[2, 0], [1, 1]])).tolist() == inv.tolist()
    assert la.solve([[2, 4]], [1], None).tolist() == [Fraction(1, 2), 0]
    assert la.rank([[Fraction(1, 2), 1], [1, 2]], None) == 1


def test_fractions_are_read_mod_p():
    assert la.inverse([[Fraction(1, 2)]], 7).tolist() == [[2]]
    with pytest.raises(SchemeError, match="no value mod 3"):
        la.rank([[Fraction(1, 3)]], 3)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: la.rank([[1]], 4), DomainError, "must be a prime"),
        (lambda: la.field(1), DomainError, "must be a prime"),
        (lambda: la.inverse([[1, 2], [2, 4]], None), SchemeError, "singular over Q"),
        (lambda: la.inverse([[1, 1], [1, 3]], 2), SchemeError, "singular over F2"),
        (lambda: la.inverse([[1, 2, 3]], 5), SchemeError, "square"),
        (lambda: la.rank([[1]], 3, "packed"), SchemeError, "packed engine works over F2"),
        (lambda: la.rank([[1]], 2**31 + 11, "int64"), SchemeError, "p < 2"),
        (lambda: la.rank([[1]], None, "galois"), SchemeError, "over Q"),
        (lambda: la.solve([[1, 0]], [1, 2], 5), SchemeError, "right-hand side"),
    ],
)
def test_bad_input_is_one_line(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_large_primes_run_on_galois():
    p = 2**61 - 1
    a = np.array([[2**40, 3], [5, 7]])
    inv = la.inverse(a, p)
    assert np.array_equal(_mul(inv, a, p), np.eye(2, dtype=object))
    assert la.Solver(a, p).engine == "galois" and la.Solver(a, 5).engine == "int64"
    assert la.Solver(a, 2).engine == "packed"


# lifting from any prime field


def _half_scheme() -> Scheme:
    """Strassen moved by an isotropy whose X has det 2: coefficients 1/2 appear (valid over Q only)."""
    s = isotropy(Scheme.strassen(), np.array([[1, 1], [-1, 1]]), np.array([[1, 0], [1, 1]]), np.eye(2, dtype=int))
    assert not s.is_integral and verify(s, "Q").valid
    return s


def _mod(s: Scheme, p: int) -> Scheme:
    return Scheme.from_arrays(s.tensor, *(residues(a, p) for a in s.factors), f"F{p}")


@pytest.mark.parametrize("p", [5, 7])
@pytest.mark.parametrize("source", ["strassen", "half"])
def test_schemes_mod_5_and_7_lift_to_q_exactly(p, source):
    base = Scheme.strassen() if source == "strassen" else _half_scheme()
    mod = _mod(base, p)
    assert verify(mod, f"F{p}").valid
    r = lift(mod, "Q")
    assert r.lifted and verify(r.scheme, "Q").valid and verify(r.scheme, r.domain).valid
    assert r.scheme.meta["lifted_from"] == f"F{p}" and r.scheme.rank == 7
    for got, want in zip(r.scheme.factors, mod.factors, strict=True):  # a lift reduces to where it started
        assert np.array_equal(residues(got, p), want)
    dens = {x.denominator for a in r.scheme.factors for x in a.flat if isinstance(x, Fraction)}
    assert all(d in (2, 3, 4, 6) for d in dens)


def _complex_product(p: int) -> Scheme:
    """(a + bi)(c + di) with 2 multiplications over F5, where i = 2: impossible over Q (rank 3 there)."""
    t = np.zeros((2, 2, 2), dtype=np.int64)
    t[0, 0, 0], t[1, 1, 0], t[0, 1, 1], t[1, 0, 1] = 1, -1, 1, 1
    return Scheme.from_arrays(Tensor("cmul", t), [[1, 2], [1, 3]], [[1, 2], [1, 3]], [[3, 4], [3, 1]], f"F{p}")


def test_a_scheme_mod_5_that_cannot_lift_says_why(flipforge_cmd, tmp_path):
    s = _complex_product(5)
    assert verify(s, "F5").valid
    r = lift(s, "Q")
    assert not r.lifted and "rational reconstruction failed" in r.reason and "5-adic" in r.reason
    write_schemes([s], tmp_path / "cmul-mod5.json")
    out = subprocess.run([*flipforge_cmd, "lift", str(tmp_path / "cmul-mod5.json")], capture_output=True, text=True)
    assert out.returncode == 1 and "does not lift from F5 to Q" in out.stdout and "Traceback" not in out.stderr


def test_cli_lifts_a_mod_7_scheme(flipforge_cmd, tmp_path):
    write_schemes([_mod(_half_scheme(), 7)], tmp_path / "half-mod7.json")
    out_file = tmp_path / "lifted.json"
    args = [*flipforge_cmd, "lift", str(tmp_path / "half-mod7.json"), "--to", "Q", "--json", "--out", str(out_file)]
    out = subprocess.run(args, capture_output=True, text=True)
    j = json.loads(out.stdout)
    assert out.returncode == 0 and j["lifted"] and j["from"] == "F7"
    (back,) = read_schemes(out_file)
    assert verify(back, "Q").valid


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 12), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_integer_solve_finds_small_integer_solutions_exactly(rows: int, cols: int, rhs: int, seed: int) -> None:
    """A consistent system with a unique small solution gives it back; any answer solves it exactly."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, (rows, cols))
    x = rng.integers(-3, 4, (cols, rhs))
    b = a @ x
    got = la.integer_solve(a, b, 3)
    if got is not None:
        assert np.array_equal(a @ got, b) and np.abs(got).max(initial=0) <= 3
    if la.rank(a, None) == cols:  # unique over Q: it must be found
        assert got is not None and np.array_equal(got, x)


def test_integer_solve_refuses_what_is_not_integral_or_too_large() -> None:
    a = np.array([[2]])
    assert la.integer_solve(a, np.array([[1]]), 5) is None  # x = 1/2
    assert la.integer_solve(a, np.array([[20]]), 5) is None  # x = 10 > 5
    assert la.integer_solve(a, np.array([[8]]), 5).tolist() == [[4]]
    assert la.integer_solve(np.array([[1], [1]]), np.array([[1], [2]]), 5) is None  # inconsistent
