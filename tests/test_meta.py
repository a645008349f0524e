"""Meta moves (extend, project, merge, product, permute) keep schemes exact, in their ring."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Scheme, SchemeError, read_schemes
from flipforge.schemes.meta import (
    buds,
    extend,
    merge,
    merge_pairs,
    permute_to,
    product,
    project,
    reorderings,
    serendipitous,
)
from flipforge.schemes.symmetry import isotropy
from flipforge.verify import verify
from hypothesis import assume, given
from hypothesis import strategies as st
from test_properties import F2_ONLY, unimodular

COLLECTION = Path(__file__).resolve().parents[1] / "schemes" / "collection"
(LADERMAN_LIKE,) = read_schemes(COLLECTION / "3x3x3-r23-ZT-sparse.json")
BASES = {
    "strassen/ZT": Scheme.strassen().with_domain("ZT"),
    "naive-2x3x2/Z": Scheme.naive("2x3x2").with_domain("Z"),
    "strassen/F3": Scheme.strassen().with_domain("F3"),
    "strassen-abs/F2": F2_ONLY,
    "3x3x3:23/ZT": LADERMAN_LIKE,
}


@st.composite
def valid_schemes(draw) -> Scheme:
    """A built-in or found scheme moved by a random isotropy (integral: det ±1), in its ring; ZT
    schemes stay unmoved so that their coefficients stay in {-1,0,1}."""
    base = BASES[draw(st.sampled_from(sorted(BASES)))]
    if base.domain.name == "ZT":
        return base
    n, m, p = base.fmt
    moved = isotropy(base, unimodular(draw, n), unimodular(draw, m), unimodular(draw, p))
    return moved.with_domain("Z" if base.domain.name == "Z" else base.domain)


def _holds(s: Scheme) -> bool:
    return verify(s, s.domain).valid


@given(valid_schemes(), st.sampled_from("nmp"))
def test_extend_keeps_validity_and_adds_the_slice(scheme, axis):
    out = extend(scheme, axis)
    n, m, p = scheme.fmt
    slice_size = {"n": m * p, "m": n * p, "p": n * m}[axis]
    assert _holds(out) and out.rank == scheme.rank + slice_size and out.domain == scheme.domain


@given(valid_schemes(), st.sampled_from("nmp"), st.integers(0, 2))
def test_project_keeps_validity_and_never_adds_terms(scheme, axis, index):
    size = scheme.fmt["nmp".index(axis)]
    out = project(scheme, axis, index % size)
    assert _holds(out) and out.rank <= scheme.rank and out.domain == scheme.domain


@given(valid_schemes(), st.sampled_from("nmp"))
def test_project_undoes_extend(scheme, axis):
    size = scheme.fmt["nmp".index(axis)]
    back = project(extend(scheme, axis), axis, size)
    assert back.fmt == scheme.fmt and back.rank <= scheme.rank and _holds(back)


@given(valid_schemes(), st.sampled_from("nmp"))
def test_merge_with_a_naive_slice_is_a_direct_sum(scheme, axis):
    ax = "nmp".index(axis)
    other = Scheme.naive(tuple(2 if d == ax else scheme.fmt[d] for d in range(3))).with_domain(scheme.domain)
    out = merge(scheme, other, axis)
    assert _holds(out) and out.rank == scheme.rank + other.rank


@given(valid_schemes(), valid_schemes())
def test_product_keeps_validity(a, b):
    if a.domain != b.domain or a.rank * b.rank > 200:
        return
    out = product(a, b)
    assert out.fmt == tuple(x * y for x, y in zip(a.fmt, b.fmt, strict=True)) and out.rank == a.rank * b.rank
    assert _holds(out)


@given(valid_schemes(), valid_schemes())
def test_serendipitous_without_wider_schemes_is_the_plain_product(a, b):
    if a.domain != b.domain or a.rank * b.rank > 200:
        return
    out = serendipitous(a, b, lambda fmt: None)
    assert out.fmt == tuple(x * y for x, y in zip(a.fmt, b.fmt, strict=True)) and out.rank == a.rank * b.rank
    assert _holds(out)


@given(valid_schemes())
def test_serendipitous_buds_use_a_cheaper_wider_scheme(a):
    """A's buds times <2,2,1> (naive, rank 4) go through Strassen's <2,2,2>:7 (and its reorderings)
    instead of 2 x 4 = 8 products each."""
    b = Scheme.naive("2x2x1").with_domain(a.domain)
    strassen = Scheme.strassen().with_domain(a.domain)
    wider = {fmt: permute_to(strassen, fmt) for fmt in [(2, 2, 2)]}
    out = serendipitous(a, b, lambda fmt: wider.get(fmt))
    assert _holds(out)
    # only buds of two on A widen <2,2,1> to a format at hand (<2,2,2>); buds on B or C do not
    expected = min(sum(7 if len(g) == 2 else 4 * len(g) for g in buds(a, 0)), a.rank * b.rank)
    if a.domain.name == "ZT":  # a bud whose product leaves {-1,0,1} is multiplied out plainly
        assert expected <= out.rank <= a.rank * b.rank and out.domain.name == "ZT"
    else:
        assert out.rank == expected


def test_serendipitous_on_the_naive_scheme_saves_one_product_per_bud():
    a = Scheme.naive("2x2x2").with_domain("ZT")  # A-factor e_ij is shared by the terms k = 1, 2: four buds of two
    assert sorted(len(g) for g in buds(a, 0)) == [2, 2, 2, 2]
    b = Scheme.naive("2x2x1").with_domain("ZT")
    out = serendipitous(a, b, lambda fmt: Scheme.strassen().with_domain("ZT") if fmt == (2, 2, 2) else None)
    assert out.fmt == (4, 4, 2) and out.rank == 4 * 7 < 8 * 4
    assert verify(out, "ZT").valid and verify(out, "Z").valid
    assert "via 2x2x2:7" in out.meta["buds"]


def test_serendipitous_product_of_published_schemes(reference):
    """Kauers-Moosbauer <2,2,3>:11 (three buds of two on A) times AlphaTensor <3,3,3>:23, with
    Smirnov's <3,6,3>:40 for the widened format: <6,6,9>:235 over Q, below the plain 253."""
    (a,) = read_schemes(reference / "kauers_moosbauer_flips/solutions/223-11-mod0.exp")
    b = next(s for s in read_schemes(reference / "alphatensor/factorizations_r.npz") if s.fmt == (3, 3, 3))
    (w,) = read_schemes(reference / "benson_fast_matmul/algorithms/smirnov363-40-960")
    out = serendipitous(a, b, lambda fmt: permute_to(w, fmt) if sorted(fmt) == [3, 3, 6] else None)
    assert out.fmt == (6, 6, 9) and out.rank == 235 < 11 * 23
    assert verify(out, "Q").valid and not out.is_integral
    none = serendipitous(a, b, lambda fmt: None)
    assert none.rank == 253 and verify(none, "Z").valid


@given(valid_schemes(), st.data())
def test_permute_reaches_every_reordering(scheme, data):
    to = data.draw(st.sampled_from(reorderings(scheme.fmt)))
    out = permute_to(scheme, to)
    assert out.fmt == to and out.rank == scheme.rank and _holds(out)


def test_a_corrupted_factor_stays_invalid_through_a_move():
    good = Scheme.strassen().with_domain("Z")
    u = good.u.copy()
    u[0, 0] += 1
    bad = Scheme.from_arrays((2, 2, 2), u, good.v, good.w, "Z")
    assert not _holds(bad)
    assert not _holds(extend(bad, "n")) and not _holds(product(bad, good))


def test_projecting_strassen_reaches_the_optimal_rank():
    assert project(Scheme.strassen(), "n", 0).rank == 4  # <1,2,2> needs 4


def test_merges_during_projection_stay_in_the_ring():
    # a⊗b⊗c twice folds into a⊗b⊗2c: fine over Z, outside {-1,0,1}, so kept apart over ZT
    twice = Scheme.from_arrays((2, 1, 1), [[1, 0], [1, 0]], [[1], [1]], [[1, 0], [1, 0]])
    assert merge_pairs(twice.with_domain("Z")).rank == 1
    assert merge_pairs(twice.with_domain("ZT")).rank == 2
    # a⊗b⊗c and (-a)⊗b⊗c cancel; over F2 a⊗b⊗c twice cancels too
    opposite = Scheme.from_arrays((2, 1, 1), [[1, 0], [-1, 0]], [[1], [1]], [[1, 0], [1, 0]], "ZT")
    assert merge_pairs(opposite).rank == 0
    assert merge_pairs(twice.with_domain("F2")).rank == 0
    assert merge_pairs(twice.with_domain("F3")).rank == 1


def test_bad_moves_say_why():
    with pytest.raises(SchemeError, match="differ outside axis n"):
        merge(Scheme.strassen(), Scheme.naive("1x2x3"), "n")
    with pytest.raises(SchemeError, match="single index"):
        project(Scheme.naive("1x2x2"), "n", 0)
    with pytest.raises(SchemeError, match="not a reordering"):
        permute_to(Scheme.strassen(), (2, 2, 3))
    with pytest.raises(SchemeError, match="different rings"):
        merge(Scheme.strassen().with_domain("F2"), Scheme.strassen().with_domain("F3"), "n")


def test_meta_cli_builds_a_start_that_search_accepts(flipforge_cmd, tmp_path):
    start = tmp_path / "2x2x3.json"
    made = subprocess.run(
        [*flipforge_cmd, "meta", "extend", "builtin:strassen", "--axis", "p", "-o", str(start), "--json"],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["format"] == "2x2x3" and summary["rank"] == 11 and summary["valid"]
    checked = subprocess.run([*flipforge_cmd, "verify", str(start)], capture_output=True, text=True)
    assert checked.returncode == 0 and "2x2x3  rank 11" in checked.stdout
    searched = subprocess.run(
        [*flipforge_cmd, "search", "2x2x3", "--start", str(start), "-r", "11", "-w", "1", "--seed", "1"]
        + ["--no-db", "--run-dir", str(tmp_path / "run"), "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert searched.returncode == 0 and json.loads(searched.stdout)["best_rank"] == 11


@pytest.mark.parametrize(
    "args, message",
    [
        (["extend", "builtin:strassen", "--axis", "q"], "'q' is not one of"),
        (["project", "builtin:strassen", "--axis", "n", "--index", "5"], "index 5 is outside 0..1"),
        (["permute", "builtin:strassen", "--to", "2x2x3"], "not a reordering"),
        (["merge", "builtin:strassen", "builtin:naive:1x2x3", "--axis", "n"], "differ outside axis n"),
        (["extend", "no-such-file.json", "--axis", "n"], "no such file"),
    ],
)
def test_meta_cli_bad_input_is_one_line_and_exit_2(flipforge_cmd, args, message):
    out = subprocess.run([*flipforge_cmd, "meta", *args], capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_meta_cli_refuses_an_invalid_scheme(flipforge_cmd, tmp_path):
    bad = tmp_path / "bad.json"
    good = Scheme.strassen()
    u = np.array(good.u, dtype=np.int64)
    u[0, 0] += 1
    from flipforge.schemes import write_schemes

    write_schemes([Scheme.from_arrays((2, 2, 2), u, good.v, good.w, "Z")], bad)
    out = subprocess.run([*flipforge_cmd, "meta", "extend", str(bad), "--axis", "n"], capture_output=True, text=True)
    assert out.returncode == 2 and "a meta move needs a valid scheme" in out.stderr


def test_start_db_seeds_a_search_through_meta_moves(flipforge_cmd, tmp_path):
    db = tmp_path / "s.db"
    imported = subprocess.run(
        [
            *flipforge_cmd,
            "db",
            "--db",
            str(db),
            "import",
            "builtin:strassen",
            str(COLLECTION / "3x3x3-r23-ZT-sparse.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    common = ["--start", "db", "--db", str(db), "-w", "1", "--seed", "1", "-t", "60", "--json", "-q"]
    run = subprocess.run(
        [*flipforge_cmd, "search", "2x3x3", "-d", "ZT", "-r", "15", "--run-dir", str(tmp_path / "r"), *common],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "projected from 3x3x3" in run.stderr
    summary = json.loads(run.stdout)
    assert summary["start_rank"] == 16 < 18  # below the naive 18: 3x3x3:23 projected along one axis
    (best,) = read_schemes(summary["best_scheme"])
    assert best.fmt == (2, 3, 3) and best.rank == 15 and verify(best, "ZT").valid
    empty = subprocess.run(
        [*flipforge_cmd, "search", "5x5x5", "--run-dir", str(tmp_path / "r5"), *common],
        capture_output=True,
        text=True,
    )
    assert empty.returncode == 2 and "holds no scheme of 5x5x5" in empty.stderr


def test_db_seeds_hold_in_the_search_domain(tmp_path):
    from flipforge.schemes.db import SchemeDB
    from flipforge.search.db_start import db_start_schemes
    from flipforge.verify import verify as check

    with SchemeDB(tmp_path / "s.db", check) as database:
        database.add(Scheme.strassen().with_domain("ZT"))
        database.add(LADERMAN_LIKE)
    with SchemeDB(tmp_path / "s.db", check, readonly=True) as database:
        for target, domain in (("2x2x3", "F3"), ("3x3x3", "F2"), ("3x2x3", "ZT")):
            seeds = db_start_schemes(Scheme.naive(target).tensor, domain, database)
            assert seeds and all(s.tensor == Scheme.naive(target).tensor and verify(s, domain).valid for s in seeds)


def test_meta_searcher_projects_neighbour_bests_into_the_target():
    """The meta searcher's neighbour walks come back as exact, lower schemes of the target."""
    from flipforge.search.packing import pack
    from flipforge.search.searchers import Candidate, make_params
    from flipforge.search.searchers.meta import MetaSearcher

    tensor = Scheme.naive("2x3x3").tensor
    naive = pack(Scheme.naive("2x3x3"), "ZT")
    params = make_params("meta", {"pool_size": 3, "meta_every": 1})
    searcher = MetaSearcher(tensor, "ZT", params, 5, {naive.rank: [Candidate("2x3x3", packed=naive)]})
    # one index larger along n, m, p; one smaller along m and p (n = 2 stays)
    assert [nb.tensor.fmt for nb in searcher.neighbours] == [(3, 3, 3), (2, 4, 3), (2, 3, 4), (2, 2, 3), (2, 3, 2)]
    reports = [r for _ in range(60) for r in searcher.step(20_000)]
    assert reports and all(verify(unpack_scheme(r.candidate.packed, tensor), "ZT").valid for r in reports)
    assert searcher.best_rank() <= 15 + 2
    for nb in searcher.neighbours:  # whatever a neighbour walk holds moves to valid target schemes
        pools = nb.search.snapshot()
        best = unpack_scheme(pools[min(pools)][0], nb.tensor)
        assert best.rank < Scheme.naive(nb.tensor).rank  # the neighbour walked down too
        if nb.step < 0:
            moved = extend(best, nb.axis)
            assert moved.fmt == (2, 3, 3) and verify(moved, "ZT").valid
            continue
        for index in range(best.fmt[nb.axis]):
            moved = project(best, nb.axis, index)
            assert moved.fmt == (2, 3, 3) and verify(moved, "ZT").valid


def unpack_scheme(packed, tensor):
    from flipforge.search.packing import unpack

    return unpack(packed, tensor)


def test_search_with_the_meta_searcher_reaches_the_best_known_rank(flipforge_cmd, tmp_path):
    out = subprocess.run(
        [*flipforge_cmd, "search", "2x3x4", "--searcher", "meta", "--meta-every", "2", "-w", "1", "--seed", "1"]
        + ["-t", "120", "--no-db", "--run-dir", str(tmp_path / "r"), "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["best_rank"] == 20 and summary["reached_target"]


def _meta(target: str, domain: str, seed: int, **params):
    from flipforge.search.packing import pack
    from flipforge.search.searchers import Candidate, make_params
    from flipforge.search.searchers.meta import MetaSearcher

    naive = pack(Scheme.naive(target), domain)
    start = {naive.rank: [Candidate(target, packed=naive)]}
    return MetaSearcher(Scheme.naive(target).tensor, domain, make_params("meta", params), seed, start)


def test_meta_pools_are_keyed_by_format_and_rank_everywhere():
    s = _meta("2x3x3", "ZT", 3, pool_size=3, meta_every=1)
    for _ in range(30):
        s.step(20_000)
    pools = s.format_pools()
    assert {fmt for fmt, _ in pools} == {"2x3x3", "3x3x3", "2x4x3", "2x3x4", "2x2x3", "2x3x2"}
    assert next(iter(pools)) == ("2x3x3", s.best_rank())  # the target first, lowest rank first
    formats = s.progress().formats
    assert list(formats) == ["2x3x3", "3x3x3", "2x4x3", "2x3x4", "2x2x3", "2x3x2"]
    assert {(f, r): n for f, sizes in formats.items() for r, n in sizes.items()} == {
        k: len(m) for k, m in pools.items()
    }
    snap = s.snapshot()
    assert set(snap["formats"]) == {"3x3x3", "2x4x3", "2x3x4", "2x2x3", "2x3x2"}
    for fmt, state in snap["formats"].items():
        assert all(c.target == fmt and c.rank == r for r, m in state["pools"].items() for c in m)
        assert {r: len(m) for r, m in state["pools"].items()} == formats[fmt]


def test_meta_reset_moves_drifting_walks_back_to_the_lowest_rank():
    """Walks that restart from the naive scheme (a pool that never fills, no deep restarts) drift
    far above the best; the reset move starts them from the best instead, and gets lower."""
    common = {
        "pool_size": 10_000,
        "restart_flips": 20_000,
        "deep_restarts": 0.0,
        "neighbours": 0,
        "smaller_neighbours": 0,
    }
    ends = {}
    for drift in (0, 1000):
        s = _meta("4x4x4", "F2", 2, reset_drift=drift, **common)
        for _ in range(40):
            for r in s.step(20_000):
                assert verify(r.candidate.to_scheme(s.tensor, "F2"), "F2").valid
        ends[drift] = (s.best_rank(), s.progress().meta["resets"])
    assert ends[1000][1] == 0 and ends[0][1] > 0
    assert ends[0][0] < ends[1000][0], ends


def test_meta_merges_a_received_best_into_a_neighbour_format():
    from flipforge.search.packing import pack
    from flipforge.search.searchers import Candidate

    best = pack(LADERMAN_LIKE, "ZT")
    for merge_best, merged in ((1.0, 1), (0.0, 0)):
        s = _meta("3x3x3", "ZT", 4, merge_best=merge_best)
        before = s.progress().formats
        s.receive(Candidate("3x3x3", packed=best))
        after = s.progress()
        assert s.best_rank() == 23 and after.meta["merged"] == merged
        grown = [f for f in after.formats if f != "3x3x3" and after.formats[f] != before[f]]
        assert len(grown) == merged
        for f in grown:  # extended: 23 + the naive terms of the new slice; projected: at most 23
            larger = sum(int(x) for x in f.split("x")) > 9
            assert min(after.formats[f]) == 23 + 9 if larger else min(after.formats[f]) <= 23


def test_meta_projects_a_received_neighbour_scheme_and_reports_it():
    from flipforge.search.packing import pack
    from flipforge.search.searchers import Candidate

    s = _meta("2x3x3", "ZT", 6, merge_best=1.0)
    assert s.best_rank() == 18
    wrong = pack(LADERMAN_LIKE, "ZT")
    wrong.fp[0, 0] ^= np.uint64(1)  # one coefficient changed: not a scheme any more
    s.receive(Candidate("3x3x3", packed=wrong))
    s.receive(Candidate("4x4x4", packed=pack(LADERMAN_LIKE, "ZT")))  # no walk of that format
    assert s.progress().meta["ignored"] == 2 and s.best_rank() == 18
    s.receive(Candidate("3x3x3", packed=pack(LADERMAN_LIKE, "ZT")))
    low = s.best_rank()
    assert low < 18 and s.progress().meta["merged"] >= 1
    assert min(s.progress().formats["3x3x3"]) == 23
    reports = s.step(1_000)
    assert reports and reports[-1].candidate.rank == low
    for r in reports:
        assert r.candidate.target == "2x3x3"
        assert verify(r.candidate.to_scheme(s.tensor, "ZT"), "ZT").valid
    assert all(r.candidate.rank < low for r in s.step(1_000))  # reported once, not again


def test_meta_extends_a_smaller_neighbours_scheme_into_the_target():
    from flipforge.search.packing import pack
    from flipforge.search.searchers import Candidate

    s = _meta("2x2x3", "ZT", 2, neighbours=0)
    assert [w.tensor.fmt for w in s.neighbours] == [(2, 2, 2)]  # the sides of 2 stay
    s.receive(Candidate("2x2x2", packed=pack(Scheme.strassen().with_domain("ZT"), "ZT")))
    assert s.best_rank() == 7 + 4 and min(s.progress().formats["2x2x2"]) == 7
    reports = s.step(1_000)
    assert reports and reports[-1].candidate.rank == 11
    assert all(verify(r.candidate.to_scheme(s.tensor, "ZT"), "ZT").valid for r in reports)


@given(valid_schemes(), st.sampled_from([0, 1, 2]), st.integers(0, 2), st.sampled_from(["F2", "F3", "ZT"]))
def test_the_meta_searchers_packed_projection_matches_project(scheme, axis, index, domain):
    """The searcher moves schemes with a bitplane version of ``project``: exact, and as good."""
    from flipforge.search.packing import pack, unpack
    from flipforge.search.searchers.meta import project_packed

    assume(domain != "ZT" or scheme.domain.name == "ZT")
    packed = pack(scheme, domain)
    assume(verify(unpack(packed, scheme.tensor), domain).valid)  # e.g. not an F2-only scheme over F3
    index %= scheme.fmt[axis]
    fast = project_packed(packed, scheme.fmt, axis, index)
    slow = project(unpack(packed, scheme.tensor), axis, index)
    out = unpack(fast, slow.tensor)
    assert out.fmt == slow.fmt and verify(out, domain).valid
    assert fast.rank == slow.rank
