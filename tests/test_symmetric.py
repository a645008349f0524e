"""Cyclic (Z3-invariant) schemes as orbits, and the symmetric searcher's orbit walk."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from flipforge.schemes import Domain, Scheme, SchemeError, parse_target
from flipforge.schemes.formats import read_schemes
from flipforge.schemes.orbits import cyclic_start, default_cubes, expand_orbits, is_cyclic, is_mirrored, parse_cubes
from flipforge.search.packing import Packed
from flipforge.search.searchers import Candidate, make_params
from flipforge.search.searchers.symmetric import SymmetricSearcher
from flipforge.verify import verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _scheme(n: int, orbits: np.ndarray, cubes: np.ndarray, domain: str, mirror: bool = False) -> Scheme:
    u, v, w = expand_orbits(orbits, cubes, mirror)
    return Scheme(parse_target(f"{n}x{n}x{n}"), u, v, w, Domain.parse(domain), {})


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("domain", ["F2", "F3", "ZT"])
@pytest.mark.parametrize("mirror", [False, True])
def test_the_start_is_an_exact_cyclic_scheme(n: int, domain: str, mirror: bool) -> None:
    cubes = parse_cubes(default_cubes(n), n)
    orbits, ds = cyclic_start(n, cubes, domain, mirror)
    scheme = _scheme(n, orbits, ds, domain, mirror)
    assert verify(scheme, domain).valid
    assert is_cyclic(scheme)
    assert is_mirrored(scheme) or not mirror
    assert scheme.rank == (6 if mirror else 3) * len(orbits) + len(cubes)


def test_the_mirror_needs_mirrored_cubes() -> None:
    with pytest.raises(SchemeError, match="cubes to cubes"):
        cyclic_start(4, parse_cubes("1000,0111", 4), "ZT", mirror=True)
    orbits, ds = cyclic_start(4, parse_cubes("1000,0111", 4), "ZT")  # fine without the mirror
    assert verify(_scheme(4, orbits, ds, "ZT"), "ZT").valid


def test_default_cubes_pair_i_with_n_minus_i() -> None:
    assert default_cubes(5) == "10001,01010,00100"
    assert default_cubes(4) == "1001,0110"
    assert parse_cubes("none", 3) == []


@pytest.mark.parametrize("text", ["1001", "10a01,01010", "00000"])
def test_bad_cube_patterns_are_refused(text: str) -> None:
    with pytest.raises(SchemeError, match="cube pattern"):
        parse_cubes(text, 5)


def test_uncovered_diagonal_is_an_orbit_of_equal_terms_over_f2_only() -> None:
    orbits, ds = cyclic_start(3, [], "F2")
    assert verify(_scheme(3, orbits, ds, "F2"), "F2").valid
    for domain in ("F3", "ZT"):
        with pytest.raises(SchemeError, match="exactly one cube"):
            cyclic_start(3, [], domain)
    with pytest.raises(SchemeError, match="outside"):
        cyclic_start(3, [(1, 1, 1), (1, 1, 1)], "ZT")  # overlapping cubes: -2 off the diagonal


def test_a_rotated_term_breaks_cyclicity() -> None:
    orbits, ds = cyclic_start(3, parse_cubes("101,010", 3), "F2")
    u, v, w = expand_orbits(orbits, ds)
    u, v, w = u[1:], v[1:], w[1:]
    scheme = Scheme(parse_target("3x3x3"), u, v, w, Domain.parse("F2"), {})
    assert not is_cyclic(scheme)


def _searcher(fmt: str, domain: str, seed: int, **params: object) -> SymmetricSearcher:
    return SymmetricSearcher(parse_target(fmt), domain, make_params("symmetric", params), seed, {})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.sampled_from([2, 3, 4]),
    domain=st.sampled_from(["F2", "F3", "ZT"]),
    symmetry=st.sampled_from(["z3", "z3xz2"]),
    seed=st.integers(0, 2**32),
    steps=st.integers(1, 5),
    plus_after=st.sampled_from([5, 50, 2000]),
)
def test_every_state_of_the_walk_is_valid_and_cyclic(
    n: int, domain: str, symmetry: str, seed: int, steps: int, plus_after: int
) -> None:
    s = _searcher(
        f"{n}x{n}x{n}",
        domain,
        seed,
        symmetry=symmetry,
        orbit_plus_after=plus_after,
        orbit_plus_delta=18,
        orbit_restart=3000,
    )
    tensor = parse_target(f"{n}x{n}x{n}")
    for _ in range(steps):
        s.step(997)
        for vp, vn, alive in ((s.vp, s.vn, s.alive), (s.best_p, s.best_n, s.best_alive)):
            scheme = s._candidate(vp, vn, alive).to_scheme(tensor, domain)
            assert verify(scheme, domain).valid
            assert is_cyclic(scheme)
            if symmetry == "z3xz2":
                assert is_mirrored(scheme)
        assert s.progress().current == s.per * int(s.alive.sum()) + s.cube_p.shape[0]


def test_reaches_4x4x4_rank_49_over_f2_with_one_cube() -> None:
    tensor = parse_target("4x4x4")
    s = _searcher("4x4x4", "F2", 1, cubes="1111", orbit_plus_after=1000, orbit_restart=1_000_000)
    for _ in range(60):
        reports = s.step(1_000_000)
        if s.best_rank() <= 49:
            break
    assert s.best_rank() == 49, f"no rank 49 in 60M orbit flips (runs {s.finished})"
    scheme = reports[-1].candidate.to_scheme(tensor, "F2")
    assert scheme.rank == 49 and verify(scheme, "F2").valid and is_cyclic(scheme)


def test_reaches_3x3x3_rank_23_over_zt() -> None:
    tensor = parse_target("3x3x3")
    s = _searcher("3x3x3", "ZT", 2, orbit_plus_after=1000, orbit_restart=1_000_000)
    for _ in range(30):
        reports = s.step(1_000_000)
        if s.best_rank() <= 23:
            break
    assert s.best_rank() == 23
    scheme = reports[-1].candidate.to_scheme(tensor, "ZT")
    assert verify(scheme, "Z").valid and is_cyclic(scheme)


def test_needs_a_square_format() -> None:
    with pytest.raises(SchemeError, match="square"):
        _searcher("2x3x4", "F2", 0)
    with pytest.raises(SchemeError, match="n <= 8"):
        _searcher("9x9x9", "F2", 0)
    with pytest.raises(SchemeError, match="--cubes"):
        make_params("symmetric", {"cubes": "1"})
    with pytest.raises(SchemeError, match="--symmetry"):
        make_params("symmetric", {"symmetry": "z2"})


def test_search_with_the_symmetric_searcher_and_lift(flipforge_cmd, tmp_path) -> None:  # noqa: ANN001
    run = tmp_path / "r"
    out = subprocess.run(
        [*flipforge_cmd, "search", "4x4x4", "--searcher", "symmetric", "--cubes", "1111", "-r", "49"]
        + ["--orbit-plus-after", "1000", "--orbit-restart", "1000000", "--lift", "Z", "-w", "1", "--seed", "3"]
        + ["-t", "120", "--no-db", "--run-dir", str(run), "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["best_rank"] == 49 and summary["reached_target"]
    config = json.loads((run / "config.json").read_text())
    assert config["searcher"] == "symmetric" and config["params"]["cubes"] == "1111"
    (best,) = read_schemes(run / "best-49.json")
    assert verify(best, "F2").valid and is_cyclic(best)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2x3x4"], "needs a square format"),
        (["3x3x3", "--cubes", "1x1"], "--cubes"),
        (["3x3x3", "--cubes", "11,1"], "cube pattern"),
        (["3x3x3", "-d", "ZT", "--cubes", "none"], "exactly one cube"),
    ],
)
def test_bad_symmetric_input_is_one_line_and_exit_2(flipforge_cmd, tmp_path, args, message) -> None:  # noqa: ANN001
    out = subprocess.run(
        [*flipforge_cmd, "search", "--searcher", "symmetric", *args, "--no-db", "--run-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_the_committed_5x5x5_rank_93_schemes_hold() -> None:
    """flipforge's own <5,5,5>:93: cyclic over F2 as the symmetric walk found it, and its ZT lift."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "schemes" / "collection"
    (found,) = read_schemes(folder / "5x5x5-r93-F2-cyclic.json")
    assert found.rank == 93 and verify(found, "F2").valid and is_cyclic(found)
    assert not verify(found.with_domain("Z"), "Z").valid  # over F2 only: it needed lifting
    (lifted,) = read_schemes(folder / "5x5x5-r93-ZT.json")
    assert lifted.rank == 93 and verify(lifted, "Z").valid and verify(lifted, "ZT").valid
    assert "bench_symmetric.py" in " ".join(lifted.meta["commands"])


def _found(fmt: str, domain: str, seed: int, steps: int = 6, **params: object) -> Candidate:
    """The lowest scheme a symmetric searcher reaches in a few steps (Z3-invariant by construction)."""
    s = _searcher(fmt, domain, seed, orbit_plus_after=1000, orbit_restart=1_000_000, **params)
    reports = [r for _ in range(steps) for r in s.step(200_000)]
    assert reports
    return reports[-1].candidate


@pytest.mark.parametrize(("domain", "symmetry"), [("F2", "z3"), ("ZT", "z3"), ("F2", "z3xz2")])
def test_an_invariant_received_best_is_pooled_and_adopted(domain: str, symmetry: str) -> None:
    tensor = parse_target("4x4x4")
    best = _found("4x4x4", domain, 31, symmetry=symmetry)
    assert is_cyclic(best.to_scheme(tensor, domain))
    s = _searcher("4x4x4", domain, 5, copy_best=1.0, orbit_restart=1_000_000, symmetry=symmetry)
    assert s.best_rank() > best.rank
    s.receive(best)
    assert s.adopted == 1 and s.ignored == 0
    assert s.best_rank() == best.rank and s.progress().current == best.rank
    adopted = s._candidate(s.vp, s.vn, s.alive)
    assert adopted.key() == best.key()  # the walk holds the very scheme it received
    for _ in range(3):
        for r in s.step(50_000):
            assert r.candidate.rank < best.rank
        scheme = s._candidate(s.vp, s.vn, s.alive).to_scheme(tensor, domain)
        assert verify(scheme, domain).valid and is_cyclic(scheme)
    pooled = _searcher("4x4x4", domain, 5, symmetry=symmetry)  # copy_best 0: pooled, the walk goes on
    start = pooled.progress().current
    pooled.receive(best)
    assert pooled.best_rank() == best.rank and pooled.adopted == 0 and pooled.progress().current == start


def test_signs_moved_between_factors_keep_a_scheme_invariant() -> None:
    best = _found("3x3x3", "ZT", 8)
    s = _searcher("3x3x3", "ZT", 1, copy_best=1.0)
    fp, fn = best.packed.fp.copy(), best.packed.fn.copy()
    for q in (0, 2):  # -u ⊗ v ⊗ -w is the same term
        fp[0, q], fn[0, q] = fn[0, q], fp[0, q]
    moved = Candidate(best.target, packed=Packed(fp, fn, "ZT"))
    assert not is_cyclic(moved.to_scheme(parse_target("3x3x3"), "ZT"))  # raw rows differ ...
    assert s.invariant(moved.packed)  # ... the terms do not
    s.receive(moved)
    assert s.adopted == 1 and s.best_rank() == best.rank


def test_a_best_that_is_not_invariant_is_ignored_and_counted() -> None:
    from flipforge.search.packing import pack
    from flipforge.search.searchers.flip_pool import FlipPoolSearcher

    tensor = parse_target("3x3x3")
    naive = pack(Scheme.naive(tensor), "F2")
    fp = FlipPoolSearcher(tensor, "F2", make_params("flip-pool", {}), 3, {27: [Candidate("3x3x3", packed=naive)]})
    other = [r for _ in range(5) for r in fp.step(50_000)][-1].candidate
    assert not is_cyclic(other.to_scheme(tensor, "F2"))
    s = _searcher("3x3x3", "F2", 2, copy_best=1.0)
    before = (s.best_rank(), s.snapshot()["pools"].keys())
    s.receive(other)
    s.receive(Candidate("4x4x4", packed=naive))  # another target
    assert s.ignored == 2 and s.adopted == 0
    assert (s.best_rank(), s.snapshot()["pools"].keys()) == before
    z3 = _found("4x4x4", "F2", 31)  # cyclic, but not reflected: ignored by a z3xz2 walk
    mirrored = _searcher("4x4x4", "F2", 2, symmetry="z3xz2", copy_best=1.0)
    start = mirrored.best_rank()
    assert not is_mirrored(z3.to_scheme(parse_target("4x4x4"), "F2"))
    mirrored.receive(z3)
    assert mirrored.ignored == 1 and mirrored.best_rank() == start
    other_cubes = _searcher("4x4x4", "F2", 2, cubes="1111", copy_best=1.0)  # the default pairs 1001,0110
    start = other_cubes.best_rank()
    other_cubes.receive(z3)
    assert other_cubes.best_rank() == start and other_cubes.ignored == 1
