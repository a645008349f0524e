"""The numeric searcher: lattice rounding, exact checks and repair, and runs over ZT, Z and Q."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from flipforge.schemes import Scheme, parse_target
from flipforge.schemes.formats import read_schemes, write_schemes
from flipforge.schemes.symmetry import scale_terms
from flipforge.search.numeric import (
    Attempt,
    Lattice,
    exact_factors,
    local_repair,
    modular_repair,
    reconstruct,
    solve_factor,
)
from flipforge.verify import verify
from hypothesis import given, settings
from hypothesis import strategies as st

STRASSEN = Scheme.strassen()
T222 = np.asarray(parse_target("2x2x2").array, dtype=np.int64)


def _ints(scheme: Scheme) -> list[np.ndarray]:
    return [np.array(a, dtype=np.int64) for a in scheme.factors]  # copies: tests change them


def test_the_lattice_rounds_and_clips() -> None:
    half = Lattice(2, 1)
    assert half.round(np.array([0.3, -0.74, 1.6, 0.1])).tolist() == [0.5, -0.5, 1.0, 0.0]
    assert half.numerators(np.array([0.3, -0.74, 1.6])).tolist() == [1, -1, 2]
    assert Lattice(1, 2).numerators(np.array([2.4, -7.0])).tolist() == [2, -2]


def test_exact_factors_accepts_strassen_and_drops_empty_terms() -> None:
    u, v, w = _ints(STRASSEN)
    assert exact_factors(T222, u, v, w, 1) is not None
    padded = [np.vstack([a, np.zeros((1, a.shape[1]), np.int64)]) for a in (u, v, w)]
    padded[0][-1, 0] = 1  # a term whose v and w are zero adds nothing
    got = exact_factors(T222, *padded, 1)
    assert got is not None and got[0].shape[0] == 7
    # over the denominator 2: numerators doubled describe the same scheme
    assert exact_factors(T222, 2 * u, 2 * v, 2 * w, 2) is not None


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 6), st.integers(0, 2), st.integers(0, 3), st.sampled_from([-1, 1, 2]))
def test_a_corrupted_scheme_is_rejected(term: int, slot: int, entry: int, delta: int) -> None:
    factors = _ints(STRASSEN)
    factors[slot][term, entry] += delta
    assert exact_factors(T222, *factors, 1) is None


@pytest.mark.parametrize("role", [0, 1, 2])
def test_solve_factor_recovers_the_missing_factor_exactly(role: int) -> None:
    factors = _ints(STRASSEN)
    others = tuple(f for q, f in enumerate(factors) if q != role)
    solved = solve_factor(T222, others, role, Lattice(1, 1))  # type: ignore[arg-type]
    assert solved is not None
    factors[role] = solved
    assert exact_factors(T222, *factors, 1) is not None


def test_solve_factor_says_none_when_no_factor_fits() -> None:
    u, v, _ = _ints(STRASSEN)
    u = u.copy()
    u[0] = 0  # one term too few for the product: no w makes it exact
    assert solve_factor(T222, (u, v), 2, Lattice(1, 1)) is None


def test_solve_factor_finds_a_half_integral_factor_over_q() -> None:
    u, v, w = _ints(STRASSEN)
    # numerators (2u, 4v) over 2 are the real factors u and 2v: w must be halved, numerators w
    solved = solve_factor(T222, (2 * u, 4 * v), 2, Lattice(2, 1))
    assert solved is not None and np.array_equal(solved, w)
    # over Z the same doubled v needs w / 2, which is not integral
    assert solve_factor(T222, (u, 2 * v), 2, Lattice(1, 1)) is None


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(1, 1), (2, 1), (1, 2)]), st.sampled_from(["lm", "als"]))
def test_whatever_an_attempt_returns_is_an_exact_scheme(seed: int, lattice: tuple[int, int], fit: str) -> None:
    lat = Lattice(*lattice)
    attempt = Attempt(T222, 7, lat, np.random.default_rng(seed), 100, 30, 0.1, 6, fit=fit)
    found = None
    while not attempt.done and found is None:
        found = attempt.advance(200)
    if found is None:
        return
    u, v, w = found
    assert u.shape[0] <= 7
    assert np.abs(u).max() <= lat.bound * lat.denominator
    frac = [np.array([[Fraction(int(x), lat.denominator) for x in row] for row in a], dtype=object) for a in found]
    assert verify(Scheme.from_arrays(parse_target("2x2x2"), *frac, "Q"), "Q").valid


def test_an_attempt_state_continues_exactly() -> None:
    a = Attempt(T222, 7, Lattice(1, 1), np.random.default_rng(5), 100, 30, 0.1, 6)
    a.advance(150)
    b = Attempt(T222, 7, Lattice(1, 1), np.random.default_rng(0), 100, 30, 0.1, 6)
    b.set_state(a.state())
    for _ in range(20):
        ra, rb = a.advance(40), b.advance(40)
        assert (ra is None) == (rb is None)
        if ra is not None:
            assert all(np.array_equal(x, y) for x, y in zip(ra, rb, strict=True))
            break
    assert np.array_equal(a.x, b.x) and a.phase == b.phase


def _search(flipforge_cmd: list[str], run, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run(
        [*flipforge_cmd, "search", *args, "--no-db", "--run-dir", str(run), "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("domain", ["Z", "Q"])
def test_a_numeric_run_over_z_or_q_reaches_strassens_rank(flipforge_cmd, tmp_path, domain) -> None:  # noqa: ANN001
    run = tmp_path / "r"
    out = _search(flipforge_cmd, run, "2x2x2", "-d", domain, "--searcher", "numeric", "-r", "7", "-w", "1", "-s", "1")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["best_rank"] == 7 and summary["reached_target"]
    (best,) = read_schemes(run / "best-7.json")
    assert str(best.domain) == domain and verify(best, domain).valid
    assert json.loads((run / "config.json").read_text())["domain"] == domain


def test_a_q_run_resumes_from_its_best_file(flipforge_cmd, tmp_path) -> None:  # noqa: ANN001
    """A Q run below its start keeps its best in a file (the pools hold ternary schemes only); a
    resume must trust it after an exact check and go on below it."""
    run = tmp_path / "r"
    first = _search(
        flipforge_cmd, run, "2x2x2", "-d", "Q", "--searcher", "numeric", "-r", "6", "-t", "4", "-w", "1", "-s", "2"
    )
    assert first.returncode == 1, first.stderr  # time is up above the target
    assert json.loads(first.stdout)["best_rank"] == 7
    # a rank-7 scheme with quarters, as the searcher may find over Q, in place of the one it found
    quarters = scale_terms(STRASSEN, [Fraction(2)] + [1] * 6, [Fraction(1, 4)] + [1] * 6).with_domain("Q")
    assert verify(quarters, "Q").valid and not verify(quarters, "Z").valid
    write_schemes([quarters], run / "best-7.json")
    again = subprocess.run(
        [*flipforge_cmd, "resume", str(run), "-t", "2", "-q", "--json"], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1, again.stderr
    assert json.loads(again.stdout)["best_rank"] == 7
    # the same file corrupted: the resume refuses to trust it (one line, exit 2)
    u = quarters.u.copy()
    u[0, 0] = Fraction(1, 2)
    bad = Scheme(quarters.tensor, u, quarters.v, quarters.w, quarters.domain)
    write_schemes([bad], run / "best-7.json")
    resume = [*flipforge_cmd, "resume", str(run), "-t", "2"]
    refused = subprocess.run(resume, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "best-7.json" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2x2x2", "-d", "F2", "--searcher", "numeric"], "numeric searcher runs over ZT, Z, Q"),
        (["2x2x2", "-d", "Z"], "flip-graph search runs over F2, F3 or ZT, not Z"),
        (["2x2x2", "-d", "F5", "--searcher", "numeric"], "not F5"),
        (["2x2x2", "-d", "Q", "--searcher", "numeric", "--denominator", "0"], "--denominator"),
        (["2x2x2", "-d", "Q", "--searcher", "numeric", "--lift", "Z"], "--lift"),
        (["2x2x2", "-d", "Z", "--searcher", "numeric", "--fit", "adam"], "--fit: the first fit is one of lm, als"),
    ],
)
def test_bad_numeric_input_is_one_line_and_exit_2(flipforge_cmd, tmp_path, args, message) -> None:  # noqa: ANN001
    out = subprocess.run(
        [*flipforge_cmd, "search", *args, "--no-db", "--run-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("shape", [(4, 4, 4), (4, 6, 6), (2, 3, 5)])
def test_the_normal_equations_match_the_dense_jacobian(shape: tuple[int, int, int]) -> None:
    from flipforge.search.numeric import _gradient_and_gram

    rng = np.random.default_rng(3)
    i, j, k = shape
    u, v, w = rng.normal(size=(5, i)), rng.normal(size=(5, j)), rng.normal(size=(5, k))
    residual = rng.normal(size=shape)
    ju = np.einsum("ab,tj,tk->ajktb", np.eye(i), v, w).reshape(i * j * k, -1)
    jv = np.einsum("ti,ab,tk->iaktb", u, np.eye(j), w).reshape(i * j * k, -1)
    jw = np.einsum("ti,tj,ab->ijatb", u, v, np.eye(k)).reshape(i * j * k, -1)
    jac = np.concatenate([ju, jv, jw], axis=1)
    grad, gram = _gradient_and_gram([u, v, w], residual)
    assert np.allclose(grad, jac.T @ residual.ravel()) and np.allclose(gram, jac.T @ jac)


def test_an_als_first_fit_reaches_exact_real_fits_and_schemes() -> None:
    """ALS sweeps bring most 2x3x3 rank-15 starts to an exact real fit (LM finishes it below the
    hand-off residual); on 2x2x2 its attempts end in Strassen-rank schemes as LM's do."""
    t233 = np.asarray(parse_target("2x3x3").array, dtype=np.int64)
    fitted = 0
    for seed in range(8):
        a = Attempt(t233, 15, Lattice(1, 1), np.random.default_rng(seed), 100, 15, 0.1, 6, fit="als")
        while a.phase == 0:
            a.advance(10)
        fitted += a.fitted
    assert fitted >= 2
    found = []
    for seed in range(6):
        a = Attempt(T222, 7, Lattice(1, 1), np.random.default_rng(seed), 100, 30, 0.1, 6, fit="als")
        result = None
        while not a.done and result is None:
            result = a.advance(100)
        found += [] if result is None else [result]
    assert found and all(exact_factors(T222, *f, 1) is not None for f in found)
    with pytest.raises(ValueError, match="fit must be one of"):
        Attempt(T222, 7, Lattice(1, 1), np.random.default_rng(0), 100, 30, 0.1, 6, fit="adam")


def test_an_attempt_gives_up_on_a_stalled_first_fit() -> None:
    # rank 5 cannot fit 2x2x2 (rank 7): the first fit stalls well before its 10_000 iterations
    a = Attempt(T222, 5, Lattice(1, 1), np.random.default_rng(0), 10_000, 30, 0.1, 6)
    while not a.done:
        assert a.advance(50) is None
    assert a.iterations < 1_000 and not a.fitted


def test_an_attempt_state_continues_exactly_while_sparsifying() -> None:
    t223 = np.asarray(parse_target("2x2x3").array, dtype=np.int64)
    a = Attempt(t223, 11, Lattice(1, 1), np.random.default_rng(2), 100, 15, 0.1, 6)
    while a.phase in (0, 2) or a.since < 3:  # in the middle of a refit after the first fit
        assert not a.done
        a.advance(1)
    b = Attempt(t223, 11, Lattice(1, 1), np.random.default_rng(0), 100, 15, 0.1, 6)
    b.set_state(a.state())
    while not a.done:
        ra, rb = a.advance(7), b.advance(7)
        assert (ra is None) == (rb is None) and a.iterations == b.iterations
        if ra is not None:
            assert all(np.array_equal(x, y) for x, y in zip(ra, rb, strict=True))
            break
        assert np.array_equal(a.x, b.x) and a.phase == b.phase and a.fitted == b.fitted


# --- the local and modular repairs -------------------------------------------------------------

# M = [[1, 1], [1, -1]] as a 2x2x1 tensor: rank 2 over Q (det -2), but rank 1 mod 2 (all ones)
SINGULAR_MOD_2 = np.array([[1, 1], [1, -1]], dtype=np.int64).reshape(2, 2, 1)


def _proven(tensor: np.ndarray, found: tuple[np.ndarray, ...], denominator: int, ring: str) -> bool:
    """Exact check through the verifier, independent of ``exact_factors``."""
    frac = [np.array([[Fraction(int(x), denominator) for x in row] for row in a], dtype=object) for a in found]
    assert tensor.shape == (4, 4, 4)
    return verify(Scheme.from_arrays(parse_target("2x2x2"), *frac, ring), ring).valid


def test_local_repair_mends_one_wrong_coefficient() -> None:
    u, v, w = _ints(STRASSEN)
    u[3, 3] = 0  # one coefficient rounded the wrong way
    assert exact_factors(T222, u, v, w, 1) is None
    fixed = local_repair(T222, [u, v, w], Lattice(1, 1))
    assert exact_factors(T222, *fixed, 1) is not None
    assert all(np.abs(a).max() <= 1 for a in fixed)  # stays on the lattice


def test_local_repair_never_raises_the_residual() -> None:
    rng = np.random.default_rng(4)
    for _ in range(10):
        nums = [rng.integers(-1, 2, size=(7, 4)) for _ in range(3)]
        before = reconstruct(*nums) - T222
        after = reconstruct(*local_repair(T222, nums, Lattice(1, 1), steps=3)) - T222
        assert int((after * after).sum()) <= int((before * before).sum())


def test_a_rounding_valid_only_mod_2_is_lifted_to_z() -> None:
    u, v, w = _ints(STRASSEN)
    u, v = np.abs(u), np.abs(v)  # every sign lost: valid mod 2 only
    assert exact_factors(T222, u, v, w, 1) is None
    got = modular_repair(T222, [u, v, w], 1, "Z")
    assert got is not None
    found, denominator = got
    assert denominator == 1 and found[0].shape[0] == 7
    assert _proven(T222, found, denominator, "Z")


def test_a_half_integral_rounding_valid_only_mod_3_is_lifted_to_q() -> None:
    # Strassen with term 0 scaled (u * 2, w / 2): w holds halves; numerators over 2
    u, v, w = _ints(STRASSEN)
    nu, nv, nw = 2 * u, 2 * v, 2 * w
    nu[0], nw[0] = 4 * u[0], w[0]
    assert exact_factors(T222, nu, nv, nw, 2) is not None
    k = int(np.flatnonzero(nw[0])[0])
    nw[0, k] = -2 * nw[0, k]  # ±1/2 rounded to ∓1: equal mod 3, wrong over Q
    assert exact_factors(T222, nu, nv, nw, 2) is None
    got = modular_repair(T222, [nu, nv, nw], 2, "Q")
    assert got is not None
    assert _proven(T222, *got, "Q")
    # the same rounding read as integers (denominator 1) is wrong mod 3 too: not repaired there
    assert modular_repair(T222, [nu, nv, nw], 1, "Q") is None


def test_a_rounding_that_holds_mod_p_but_lifts_nowhere_is_rejected() -> None:
    # rank 1 holds mod 2 (all ones), but M has rank 2 over Q: no lift can exist
    ones = [np.ones((1, 2), np.int64), np.ones((1, 2), np.int64), np.ones((1, 1), np.int64)]
    assert not np.any((reconstruct(*ones) - SINGULAR_MOD_2) % 2)
    for ring in ("ZT", "Z", "Q"):
        assert modular_repair(SINGULAR_MOD_2, ones, 1, ring) is None


def test_a_rounding_valid_mod_no_prime_is_rejected() -> None:
    u, v, w = _ints(STRASSEN)
    u[0] = 0  # a whole term missing: wrong mod every p
    assert modular_repair(T222, [u, v, w], 1, "Z") is None


def test_a_z_lift_that_only_holds_over_q_is_not_reported_for_z() -> None:
    half = scale_terms(STRASSEN, [Fraction(2)] + [1] * 6, [Fraction(1, 2)] + [1] * 6)
    nums = [np.array([[int(2 * Fraction(x)) for x in row] for row in a], dtype=np.int64) for a in half.factors]
    assert exact_factors(T222, *nums, 2) is not None  # a valid scheme over Q with halves
    got = modular_repair(T222, nums, 2, "Z")
    assert got is None or (got[1] == 1 and _proven(T222, *got, "Z"))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 6), st.integers(0, 3), st.integers(-2, 2)), max_size=4))
def test_whatever_the_repairs_return_is_an_exact_scheme(changes: list[tuple[int, int, int, int]]) -> None:
    factors = _ints(STRASSEN)
    for slot, term, entry, delta in changes:
        factors[slot][term, entry] += delta
    for ring in ("ZT", "Z"):
        got = modular_repair(T222, factors, 1, ring)
        if got is not None:
            found, denominator = got
            assert _proven(T222, found, denominator, ring)
    fixed = local_repair(T222, factors, Lattice(1, 2))
    if exact_factors(T222, *fixed, 1) is not None:
        assert _proven(T222, fixed, 1, "Z")


def test_an_attempt_repairs_its_rounding_only_when_asked() -> None:
    u, v, w = _ints(STRASSEN)
    signs_lost = [np.abs(u), np.abs(v), w]  # valid mod 2 only; the real point sits on it
    for lift_to, expected in ((None, False), ("Z", True)):
        a = Attempt(T222, 7, Lattice(1, 1), np.random.default_rng(0), 100, 30, 0.1, 6, lift_to=lift_to)
        a.x = np.concatenate([f.ravel() for f in signs_lost]).astype(np.float64)
        found = a._rounded()
        assert (found is not None) == expected
        if found is not None:
            assert a.repairs == 1 and _proven(T222, found, a.denominator, "Z")


def test_a_numeric_run_with_and_without_repair_reaches_strassen(flipforge_cmd, tmp_path) -> None:  # noqa: ANN001
    for repair in ("0", "1"):
        run = tmp_path / repair
        out = _search(
            flipforge_cmd, run, "2x2x2", "-d", "Z", "--searcher", "numeric", "--repair", repair, "-r", "7", "-w", "1"
        )
        assert out.returncode == 0, out.stderr
        (best,) = read_schemes(run / "best-7.json")
        assert verify(best, "Z").valid
