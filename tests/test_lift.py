"""Hensel lifting (what lifts does, verified exactly; what cannot lift says why) and equivalence invariants."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from flipforge.schemes import Scheme, SchemeError, matmul_tensor, read_entries, read_schemes, write_schemes
from flipforge.schemes.canonical import canonical_hash
from flipforge.schemes.symmetry import isotropy, rotate, transpose
from flipforge.search.packing import pack, unpack
from flipforge.search.pool import PoolSearch
from flipforge.search.searchers.flip_pool import FlipPoolParams
from flipforge.verify import verify
from flipforge.verify.equivalence import compare, find_isotropy, fingerprint
from flipforge.verify.lift import lift
from hypothesis import given, settings
from hypothesis import strategies as st


def _mod2(s: Scheme) -> Scheme:
    return Scheme.from_arrays(s.tensor, np.abs(s.u) % 2, np.abs(s.v) % 2, np.abs(s.w) % 2, "F2")


def _found_f2(fmt: str, target: int) -> Scheme:
    start = pack(Scheme.naive(matmul_tensor(fmt)), "F2")
    ps = PoolSearch({start.rank: [start]}, "F2", FlipPoolParams(), 1)
    while ps.best_rank > target:
        ps.step()
    return unpack(ps.pools[target].members[0], matmul_tensor(fmt))


def test_strassen_mod_2_lifts_back_to_a_ternary_scheme():
    r = lift(_mod2(Scheme.strassen()), "Z")
    assert r.lifted and r.domain == "ZT" and verify(r.scheme, "Z").valid and r.scheme.rank == 7


def test_flipforges_own_333_23_over_f2_lifts_to_z():
    s = _found_f2("3x3x3", 23)
    assert str(s.domain) == "F2" and not verify(s, "Z").valid
    r = lift(s, "Z")
    assert r.lifted and r.domain in ("ZT", "Z") and verify(r.scheme, "Z").valid
    assert r.scheme.meta["lifted_from"] == "F2"


def test_invalid_input_is_refused():
    s = _mod2(Scheme.strassen()).take_terms(list(range(6)))
    with pytest.raises(SchemeError, match="not valid over F2"):
        lift(s, "Z")
    with pytest.raises(SchemeError, match="prime field"):
        lift(Scheme.strassen(), "Z")


def test_444_47_over_f2_does_not_lift(reference):
    s = read_schemes(reference / "kauers_moosbauer_flips" / "solutions" / "444-47-mod2.exp")[0].with_domain("F2")
    r = lift(s, "Q")
    assert not r.lifted and "step 1 has no solution" in r.reason


def test_f3_to_q_needs_one_half(reference):
    entries = read_entries(reference / "alphaevolve" / "alphaevolve_decompositions.npz")
    (q,) = [e for e in entries if isinstance(e, Scheme) and e.fmt == (2, 4, 5)]
    assert q.rank == 32 and not q.is_integral  # rank 32 needs 1/2 (rank over Z is 33)
    r = lift(q.with_domain("F3"), "Q")
    assert r.lifted and r.domain == "Q" and verify(r.scheme, "Q").valid and not r.scheme.is_integral


def test_cli_lift_exit_codes(flipforge_cmd, tmp_path):
    write_schemes([_mod2(Scheme.strassen())], tmp_path / "s-mod2.json")
    out = subprocess.run(
        [
            *flipforge_cmd,
            "lift",
            str(tmp_path / "s-mod2.json"),
            "--to",
            "ZT",
            "--json",
            "--out",
            str(tmp_path / "lifted.json"),
        ],
        capture_output=True,
        text=True,
    )
    j = json.loads(out.stdout)
    assert out.returncode == 0 and j["lifted"] and j["domain"] == "ZT" and j["rank"] == 7
    assert {"steps", "seconds", "out"} <= set(j)
    (back,) = read_schemes(tmp_path / "lifted.json")
    assert str(back.domain) == "ZT" and verify(back, "Z").valid
    again = subprocess.run([*flipforge_cmd, "lift", str(tmp_path / "lifted.json")], capture_output=True, text=True)
    assert again.returncode == 2 and "already valid over ZT" in again.stderr


def test_search_lifts_its_last_best(flipforge_cmd, tmp_path):
    out = subprocess.run(
        [
            *flipforge_cmd,
            "search",
            "3x3x3",
            "-r",
            "23",
            "-w",
            "1",
            "--seed",
            "2",
            "--lift",
            "Z",
            "--json",
            "--quiet",
            "--run-dir",
            "run",
            "--no-db",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    lifted = [e for e in events if e["event"] == "lifted"]
    assert lifted and lifted[-1]["rank"] == 23
    (s,) = read_schemes(tmp_path / "run" / lifted[-1]["file"])
    assert s.rank == 23 and verify(s, "Z").valid and str(s.domain) in ("ZT", "Z")


@settings(max_examples=25, deadline=None)
@given(
    mats=st.lists(
        st.sampled_from([((1, 1), (0, 1)), ((1, 0), (1, 1)), ((0, 1), (1, 0)), ((1, 0), (0, -1)), ((2, 1), (1, 1))]),
        min_size=3,
        max_size=3,
    ),
    perm_seed=st.integers(0, 10**6),
    base=st.sampled_from(["strassen", "winograd", "naive"]),
)
def test_equivalent_schemes_share_the_fingerprint(mats, perm_seed, base):
    s = {"strassen": Scheme.strassen, "winograd": Scheme.strassen_winograd, "naive": lambda: Scheme.naive("2x2x2")}[
        base
    ]()
    x, y, z = (np.array(m) for m in mats)
    t = isotropy(s, x, y, z).take_terms(np.random.default_rng(perm_seed).permutation(s.rank))
    assert verify(t, "Q").valid
    assert fingerprint(t) == fingerprint(s)
    assert fingerprint(t, "F3") == fingerprint(s, "F3")


def test_inequivalent_schemes_are_told_apart(flipforge_cmd, tmp_path):
    s = Scheme.strassen()
    # split term 0 of Strassen: a⊗b⊗c = a'⊗b⊗c + (a - a')⊗b⊗c gives another rank-8 scheme
    u = np.vstack([s.u, s.u[:1]])
    u[0] = [1, 0, 0, 0]
    u[7] = s.u[0] - u[0]
    split = Scheme.from_arrays((2, 2, 2), u, np.vstack([s.v, s.v[:1]]), np.vstack([s.w, s.w[:1]]), "Z")
    assert verify(split, "Z").valid
    same, why = compare(split, Scheme.naive("2x2x2"))
    assert not same and "rank profiles differ" in why
    assert compare(Scheme.strassen(), Scheme.strassen_winograd())[0]  # de Groote: all rank-7 schemes are equivalent
    write_schemes([split], tmp_path / "split.json")
    out = subprocess.run(
        [*flipforge_cmd, "equiv", str(tmp_path / "split.json"), "builtin:naive:2x2x2"], capture_output=True, text=True
    )
    assert out.returncode == 1 and "not equivalent" in out.stdout
    out = subprocess.run(
        [*flipforge_cmd, "equiv", "builtin:strassen", "builtin:winograd", "--json"], capture_output=True, text=True
    )
    assert out.returncode == 0 and json.loads(out.stdout)["possibly_equivalent"]


def test_alphatensor_f2_schemes_lift_exactly_when_an_integer_scheme_of_that_rank_exists(reference):
    from flipforge.schemes.db import best_known_table

    z_best = {row["format"]: row["Z"] for row in best_known_table()}
    entries = read_entries(reference / "alphatensor" / "factorizations_f2.npz")
    checked = 0
    for s in (e for e in entries if isinstance(e, Scheme) and max(e.fmt) <= 4):
        fmt = "x".join(map(str, sorted(s.fmt)))
        r = lift(s.with_domain("F2"), "Q")
        if s.rank >= z_best[fmt]:
            assert r.lifted and verify(r.scheme, "Q").valid, (fmt, s.rank, r.reason)
        else:  # below every known ring scheme: <4,4,4>:47
            assert not r.lifted and "does not lift" in r.reason, (fmt, s.rank)
        checked += 1
    assert checked >= 10


def test_the_isotropy_between_equivalent_small_schemes_is_found(flipforge_cmd):
    s, w = Scheme.strassen(), Scheme.strassen_winograd()
    found = find_isotropy(s, w, "Q")
    assert found is not None and found["symmetry"] == "identity"
    mapped = isotropy(s, *(np.array(found[k]) for k in ("X", "Y", "Z")))
    assert canonical_hash(mapped, "Q") == canonical_hash(w, "Q")  # the same terms, exactly
    image = transpose(rotate(isotropy(s, np.array([[1, 1], [0, 1]]), np.eye(2, dtype=int), np.array([[0, 1], [1, 0]]))))
    assert find_isotropy(s, image, "F2") is not None and find_isotropy(s, image, "Q") is not None
    assert find_isotropy(Scheme.naive("2x2x2"), Scheme.naive("2x2x2").take_terms([7, 6, 5, 4, 3, 2, 1, 0]), "F2")
    out = subprocess.run(
        [*flipforge_cmd, "equiv", "builtin:strassen", "builtin:winograd", "--find", "--json"],
        capture_output=True,
        text=True,
    )
    j = json.loads(out.stdout)
    assert out.returncode == 0 and j["isotropy"] and j["reason"].startswith("equivalent")
