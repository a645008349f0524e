"""The evolutionary searcher (``--searcher evolution``): NSGA-II selection, crossover with repair,
isotropy mutations, migration, and a short seeded run of the command. The Searcher contract
itself runs in tests/test_searcher_contract.py."""

from __future__ import annotations

import json
import math
import subprocess
from functools import lru_cache

import numpy as np
import pytest
from flipforge.schemes import Scheme, parse_target
from flipforge.schemes.formats import read_schemes
from flipforge.schemes.metrics import naive_additions
from flipforge.schemes.symmetry import isotropy
from flipforge.search.packing import Packed, pack, unpack
from flipforge.search.searchers import Candidate, make_params
from flipforge.search.searchers.evolution import (
    EvolutionSearcher,
    _reduce,
    _residual_terms,
    additions,
    crossover,
    crowding_distance,
    is_valid,
    isotropy_packed,
    non_dominated_sort,
    nsga2_order,
    random_isotropy,
)
from flipforge.verify import verify
from hypothesis import given, settings
from hypothesis import strategies as st

DOMAINS = ("F2", "F3", "ZT")


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


# --- NSGA-II -------------------------------------------------------------------------------------


def test_fronts_of_a_small_example() -> None:
    objs = np.array([[1, 5], [2, 2], [5, 1], [2, 5], [3, 3], [6, 6], [1, 5]])
    assert non_dominated_sort(objs) == [[0, 1, 2, 6], [3, 4], [5]]
    assert non_dominated_sort(np.zeros((0, 2))) == []


def test_crowding_distance_of_a_front() -> None:
    objs = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    dist = crowding_distance(objs, [0, 1, 2, 3])
    assert math.isinf(dist[0]) and math.isinf(dist[3])
    # member 1: neighbours 0 and 2 -> (3-0)/4 + (4-1)/4; member 2: neighbours 1 and 3 -> same
    assert dist[1] == pytest.approx(1.5) and dist[2] == pytest.approx(1.5)
    assert all(math.isinf(d) for d in crowding_distance(objs, [1, 2]))


def test_order_puts_fronts_first_and_the_crowded_last() -> None:
    objs = np.array([[0.0, 10.0], [1.0, 9.0], [1.1, 8.9], [5.0, 5.0], [10.0, 0.0], [11.0, 11.0]])
    order = nsga2_order(objs)
    assert order[-1] == 5  # dominated by all
    assert set(order[:2]) == {0, 4}  # the extremes of the front
    assert order.index(3) < order.index(1)  # 1 and 2 crowd each other


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 4)] * 3), min_size=1, max_size=14))
def test_fronts_are_a_non_dominated_sorting(rows: list[tuple[int, int, int]]) -> None:
    objs = np.array(rows, dtype=float)
    fronts = non_dominated_sort(objs)
    assert sorted(i for f in fronts for i in f) == list(range(len(rows)))
    for k, front in enumerate(fronts):
        for i in front:
            assert not any(_dominates(objs[j], objs[i]) for j in front)
            assert not any(_dominates(objs[j], objs[i]) for f in fronts[k + 1 :] for j in f)
            if k:
                assert any(_dominates(objs[j], objs[i]) for j in fronts[k - 1])
        dist = crowding_distance(objs, front)
        assert (dist >= 0).all()
    order = nsga2_order(objs)
    assert sorted(order) == list(range(len(rows)))
    place = {i: n for n, i in enumerate(order)}
    for i in range(len(rows)):
        for j in range(len(rows)):
            if _dominates(objs[i], objs[j]):
                assert place[i] < place[j]


# --- schemes to work on --------------------------------------------------------------------------


@lru_cache(maxsize=64)
def walked(label: str, domain: str, seed: int, flips: int) -> Packed:
    """A valid scheme a short walk from the naive one reaches."""
    from flipforge.search.kernels.index import new_arena, read_factors
    from flipforge.search.kernels.walk import walk
    from flipforge.search.params import DOMAIN_CODES

    naive = pack(Scheme.naive(parse_target(label)), domain)
    arena = new_arena(naive.fp, naive.fn, DOMAIN_CODES[domain], naive.rank + 4, seed)
    walk(arena, flips, 0, 300, 2, naive.rank, False)
    fp, fn = read_factors(arena)
    return Packed(fp, fn, domain)


def valid(packed: Packed, label: str) -> bool:
    return verify(unpack(packed, parse_target(label)), packed.domain).valid


def test_additions_are_the_naive_additions() -> None:
    for domain in DOMAINS:
        for seed in range(3):
            p = walked("2x3x4", domain, seed, 2_000)
            scheme = unpack(p, parse_target("2x3x4"))
            assert additions(p, scheme.tensor.shape) == naive_additions(scheme)


# --- crossover and repair ------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 2**32), st.sampled_from(DOMAINS))
def test_residual_terms_write_out_a_residual_exactly(seed: int, density: int, domain: str) -> None:
    rng = np.random.default_rng(seed)
    res = rng.integers(-3, 4, size=(3, 4, 5)) * (rng.random((3, 4, 5)) < (density % 7 + 1) / 8)
    res = _reduce(res, domain)
    terms = _residual_terms(res, domain)
    total = np.zeros_like(res)
    for x, y, z in terms:
        assert max(np.abs(x).max(), np.abs(y).max(), np.abs(z).max()) <= 1
        total = total + np.einsum("i,j,k->ijk", x, y, z)
    assert not _reduce(total - res, domain).any()


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["3x3x3", "2x3x4", "pm-22"]),
    st.sampled_from(DOMAINS),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(0, 2**32),
)
def test_every_kept_crossover_child_is_exactly_valid(label: str, domain: str, a: int, b: int, seed: int) -> None:
    tensor = parse_target(label)
    pa, pb = walked(label, domain, a, 3_000), walked(label, domain, b + 10, 3_000)
    child = crossover(pa, pb, np.asarray(tensor.array), np.random.default_rng(seed), 200)
    if child is not None:  # a child is only discarded when it would be too large
        assert child.domain == domain
        assert valid(child, label)


def test_crossover_keeps_most_children_and_a_walk_brings_them_down() -> None:
    label, domain = "3x3x3", "ZT"
    tensor = np.asarray(parse_target(label).array)
    rng = np.random.default_rng(5)
    kept = 0
    for i in range(20):
        child = crossover(walked(label, domain, i, 20_000), walked(label, domain, i + 50, 20_000), tensor, rng, 60)
        if child is not None:
            kept += 1
            assert is_valid(child, tensor) and valid(child, label)
    assert kept >= 15
    assert crossover(walked(label, domain, 1, 0), walked(label, domain, 2, 20_000), tensor, rng, 3) is None


def test_an_invalid_scheme_is_caught() -> None:
    p = walked("3x3x3", "F3", 1, 1_000)
    tensor = np.asarray(parse_target("3x3x3").array)
    assert is_valid(p, tensor)
    broken = Packed(p.fp[1:], p.fn[1:], p.domain)
    assert not is_valid(broken, tensor)
    wide = p.fp.copy()
    wide[0, 0] |= np.uint64(1) << np.uint64(40)
    assert not is_valid(Packed(wide, p.fn, p.domain), tensor)


# --- isotropies ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 3), st.integers(0, 2**32), st.booleans())
def test_random_isotropies_are_invertible_and_ternary(n: int, k: int, seed: int, ternary: bool) -> None:
    x, xi = random_isotropy(np.random.default_rng(seed), n, k, ternary)
    assert (x @ xi == np.eye(n, dtype=np.int64)).all()
    if ternary:
        assert np.abs(x).max() <= 1 and np.abs(xi).max() <= 1


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(DOMAINS), st.integers(0, 4), st.integers(0, 2**32))
def test_isotropy_keeps_validity_and_domain(domain: str, walk_seed: int, seed: int) -> None:
    label, fmt = "2x3x4", (2, 3, 4)
    tensor = parse_target(label)
    p = walked(label, domain, walk_seed, 2_000)
    rng = np.random.default_rng(seed)
    mats = [random_isotropy(rng, n, 1 if domain == "ZT" else 2, domain == "ZT") for n in fmt]
    turned = isotropy_packed(p, fmt, mats)
    if turned is None:  # over ZT a coefficient left {-1, 0, 1}
        assert domain == "ZT"
        return
    assert turned.domain == domain and turned.rank == p.rank
    assert valid(turned, label)
    # the same map as schemes.symmetry.isotropy (exact, over Q), read in the domain
    exact = isotropy(unpack(p, tensor), *(x for x, _ in mats))
    mine = unpack(turned, tensor)
    for a, b in zip(exact.factors, mine.factors, strict=True):
        assert not _reduce(np.asarray(a, dtype=np.int64) - b, domain).any()


# --- the searcher --------------------------------------------------------------------------------


def build(label: str, domain: str, seed: int, **params: object) -> EvolutionSearcher:
    tensor = parse_target(label)
    naive = pack(Scheme.naive(tensor), domain)
    start = {naive.rank: [Candidate(tensor.label(with_shape=False), packed=naive)]}
    s = EvolutionSearcher(tensor, domain, make_params("evolution", params), seed, start)
    s.warm_up()
    return s


@pytest.mark.parametrize("domain", DOMAINS)
def test_all_mutations_on_a_non_matmul_target(domain: str) -> None:
    s = build("pm-22", domain, 3, crossover_rate=1.0, isotropy_rate=1.0, segment_min=50, segment_max=500)
    reports = []
    for _ in range(20):
        reports += s.step(2_000)
    assert reports and s.best_rank() < 9
    tensor = parse_target("pm-22")
    for r in reports:
        assert verify(r.candidate.to_scheme(tensor, domain), domain).valid
    assert all(is_valid(p, np.asarray(tensor.array)) for p in s.members)


def test_population_stays_distinct_bounded_and_in_its_rank_window() -> None:
    s = build("3x3x3", "F3", 2, population=6, elite=2, crossover_rate=0.5, isotropy_rate=0.5, segment_min=200)
    for _ in range(30):
        s.step(5_000)
        keys = [p.key() for p in s.members]
        assert len(keys) == len(set(keys)) <= 6
        assert max(p.rank for p in s.members) <= s.best_rank() + 1
        assert [p.rank for p in s.members] == sorted(p.rank for p in s.members)


def test_an_elite_as_large_as_the_population_still_lets_children_in() -> None:
    s = build("3x3x3", "F2", 8, population=2, elite=1_000, segment_min=500)
    for _ in range(5):
        s.step(20_000)
    assert len(s.members) <= 2 and s.best_rank() < 27


def test_migrants_join_the_population() -> None:
    donor = build("3x3x3", "ZT", 1)
    while donor.best_rank() > 24:
        donor.step(50_000)
    low = Candidate("3x3x3", packed=donor.members[0])
    s = build("3x3x3", "ZT", 2)
    s.receive(low)
    assert s.best_rank() == low.rank and low.key() in {p.key() for p in s.members}
    for _ in range(3):  # a received rank is not reported again
        assert all(r.candidate.rank < low.rank for r in s.step(20_000))
    other = build("3x3x3", "ZT", 3, migrants=0.0)
    other.receive(low)
    assert other.best_rank() == 27
    bad = Packed(low.packed.fp[1:], low.packed.fn[1:], "ZT")
    other.receive(Candidate("3x3x3", packed=bad))  # not a scheme of the target: ignored
    other.receive(Candidate("3x3x3", packed=walked("3x3x3", "F3", 1, 100)))  # another domain
    assert other.best_rank() == 27


def test_segment_lengths_adapt_to_success() -> None:
    s = build("3x3x3", "F2", 4, segment_min=1_000, segment_max=1_000_000)
    start = s.scale
    while s.best_rank() > 23:
        s.step(200_000)
    for _ in range(20):  # at 23 reductions stop: segments grow
        s.step(200_000)
    assert s.scale > start


def test_the_command_reaches_23_over_zt(flipforge_cmd, tmp_path) -> None:  # noqa: ANN001
    run = tmp_path / "r"
    out = subprocess.run(
        [*flipforge_cmd, "search", "3x3x3", "-d", "ZT", "--searcher", "evolution", "-r", "23", "-s", "1", "-w", "1"]
        + ["--crossover-rate", "0.2", "-t", "60", "--no-db", "--run-dir", str(run), "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["best_rank"] == 23 and summary["reached_target"]
    config = json.loads((run / "config.json").read_text())
    assert config["searcher"] == "evolution" and config["params"]["crossover_rate"] == 0.2
    (best,) = read_schemes(run / "best-23.json")
    assert verify(best, "ZT").valid
    assert max(int(np.abs(np.asarray(a, dtype=np.int64)).max()) for a in best.factors) <= 1


def test_sandwiched_children_over_zt_stay_valid_and_ternary() -> None:
    s = build("3x3x3", "ZT", 6, isotropy_rate=1.0, segment_min=1, segment_max=1)
    schemes = [walked("3x3x3", "ZT", i, 5_000) for i in range(10)]
    turned = [s._sandwich(p) for p in schemes]
    assert all(valid(t, "3x3x3") for t in turned)
    assert any(t.key() != p.key() for t, p in zip(turned, schemes, strict=True))
    for _ in range(10):
        s.step(100)
    tensor = np.asarray(parse_target("3x3x3").array)
    assert all(is_valid(m, tensor) and m.domain == "ZT" for m in s.members)
