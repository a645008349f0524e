"""Schemes and flip-graph walks over the extension fields GF4 and F9 = F3[i] (element indices)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from flipforge.schemes import (
    Domain,
    DomainError,
    FlipforgeError,
    Scheme,
    coefficient_class,
    parse_target,
    read_schemes,
    write_schemes,
)
from flipforge.schemes.canonical import canonical_hash
from flipforge.schemes.coeffs import Gaussian, parts
from flipforge.schemes.formats.native import from_native_dict, native_text
from flipforge.schemes.gfq import element_name, from_integers, product, tables
from flipforge.search.kernels.gfq import RANK, new_state, read_terms, walk_gfq
from flipforge.search.packing import pack
from flipforge.search.searchers import Candidate, make_params
from flipforge.search.searchers.flip_gfq import FlipGFqSearcher
from flipforge.verify import verify
from flipforge.verify.lift_gauss import lift_f9
from hypothesis import given, settings
from hypothesis import strategies as st

FIELDS = [("GF4", 4), ("F9", 9)]


def _strassen(q: int) -> Scheme:
    name = "GF4" if q == 4 else "F9"
    return Scheme.from_arrays((2, 2, 2), *(from_integers(a, q) for a in Scheme.strassen().factors), name)


def test_extension_fields_are_opt_in():
    for text in ("GF4", "F9", "gf(9)"):
        with pytest.raises(DomainError, match="extension field"):
            Domain.parse(text)
    assert Domain.parse("GF(4)", extension=True).q == 4 and Domain.parse("F9", extension=True).q == 9
    assert Domain.parse("F9", extension=True).p is None  # never read as residues mod some p
    with pytest.raises(DomainError, match="not a prime field"):
        Domain.parse("F4", extension=True)


def test_tables_are_fields():
    for q in (4, 9):
        add, mul, neg, inv = tables(q)
        x = np.arange(q)
        assert np.array_equal(add[x, neg], np.zeros(q, int))
        assert np.array_equal(mul[x[1:], inv[1:]], np.ones(q - 1, int))
        a, b, c = np.meshgrid(x, x, x, indexing="ij")
        assert np.array_equal(mul[mul[a, b], c], mul[a, mul[b, c]])  # associative
        assert np.array_equal(add[add[a, b], c], add[a, add[b, c]])
        for a in x:  # distributive
            assert np.array_equal(mul[a, add], add[mul[a][:, None], mul[a][None, :]])
    _, mul9, _, _ = tables(9)
    assert mul9[3, 3] == 2 and element_name(9, 3) == "i"  # i² = -1 in F9 = F3[i]


@pytest.mark.parametrize("name,q", FIELDS)
def test_verify_over_extension_fields(name, q):
    assert verify(Scheme.naive("3x3x3"), name).valid
    assert verify(_strassen(q)).valid and str(verify(_strassen(q)).domain) == name
    # element indices, not integers: -1 is not an index, and a GF4 scheme read over F9 is wrong
    res = verify(Scheme.strassen(), name)
    assert not res.valid and "element index" in (res.reason or "")
    other = _strassen(4 if q == 9 else 9)
    assert not verify(Scheme.from_arrays((2, 2, 2), *other.factors), name).valid


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_any_changed_coefficient_is_rejected(data):
    name, q = data.draw(st.sampled_from(FIELDS))
    s = _strassen(q)
    arrs = [a.copy() for a in s.factors]
    factor, term, col = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 6)), data.draw(st.integers(0, 3))
    old = int(arrs[factor][term, col])
    arrs[factor][term, col] = data.draw(st.sampled_from([x for x in range(q) if x != old]))
    assert not verify(Scheme.from_arrays((2, 2, 2), *arrs, name)).valid


def test_canonical_hash_and_json_over_f9():
    s = _strassen(9)
    u, v, w = (a.copy() for a in s.factors)
    _, mul, _, _ = tables(9)
    u[2], w[2] = mul[3, u[2]], mul[6, w[2]]  # u·i and w·(-i): the same rank-one term
    t = Scheme.from_arrays((2, 2, 2), u, v, w, "F9")
    assert verify(t).valid and canonical_hash(t, "F9") == canonical_hash(s, "F9")
    assert canonical_hash(s.take_terms([6, 5, 4, 3, 2, 1, 0]), "F9") == canonical_hash(s, "F9")
    back = from_native_dict(json.loads(native_text(t)), "x")
    assert str(back.domain) == "F9" and verify(back).valid and back.u.tolist() == t.u.tolist()


@pytest.mark.parametrize("name,q", FIELDS)
def test_kernel_walk_keeps_the_tensor(name, q):
    """Random walks with scalars from the whole field (wide = 1000), plus transitions included."""
    add, mul, neg, inv = tables(q)
    n = Scheme.naive("3x3x3")
    for seed in (1, 2, 3):
        f, keys, state, widths = new_state(*(from_integers(a, q) for a in n.factors), 40, seed, mul, inv)
        walk_gfq(f, keys, state, widths, add, mul, neg, inv, 20_000, 0, 500, 3, 27, 2 if q == 4 else 3, 1000)
        u, v, w = read_terms(f, state, widths)
        assert np.array_equal(product(u, v, w, q), from_integers(n.tensor.array, q))
        assert int(state[RANK]) == u.shape[0] and max(int(a.max()) for a in (u, v, w)) >= (2 if q == 4 else 3)


def _search(label: str, domain: str, seed: int, steps: int, target: int, **params) -> FlipGFqSearcher:
    tensor = parse_target(label)
    naive = Candidate(tensor.label(with_shape=False), packed=pack(Scheme.naive(tensor), "ZT"))
    start = {naive.rank: [naive]}
    s = FlipGFqSearcher(tensor, domain, make_params("flip-gfq", params), seed, start)  # type: ignore[arg-type]
    for _ in range(steps):
        for r in s.step(500_000):
            assert verify(r.candidate.to_scheme(tensor, domain), domain).valid
        if s.best_rank() <= target:
            break
    return s


@pytest.mark.parametrize("name,q", FIELDS)
def test_walk_reaches_strassen_rank(name, q):
    assert _search("2x2x2", name, 1, 40, 7).best_rank() == 7


@pytest.mark.parametrize("name,q", FIELDS)
def test_walk_reaches_23_on_333(name, q):
    s = _search("3x3x3", name, 1, 200, 23)
    assert s.best_rank() == 23
    scheme = s.pools[23][0].to_scheme(parse_target("3x3x3"), name)
    assert verify(scheme, name).valid


def test_wide_walk_finds_a_gf4_scheme_outside_f2():
    """With every scalar from the whole field the <2,2,2> walk still reaches 7 over GF4, and the
    scheme it finds uses α: a GF4 scheme, not an F2 one in disguise."""
    s = _search("2x2x2", "GF4", 1, 40, 7, wide=1000)
    assert s.best_rank() == 7
    u, v, w = s.pools[7][0].factors  # type: ignore[misc]
    assert max(int(a.max()) for a in (u, v, w)) >= 2


def test_cli_search_over_gf4(flipforge_cmd, tmp_path):
    """A whole run: forked worker (galois in the parent must not break fork), best file over GF4."""
    run = tmp_path / "r"
    args = ["search", "2x2x2", "-d", "GF4", "--searcher", "flip-gfq", "--target-rank", "7", "--time", "120s"]
    args += ["--seed", "1", "--workers", "1", "--no-db", "--run-dir", str(run)]
    out = subprocess.run([*flipforge_cmd, *args], capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr
    assert "fork()" not in out.stderr + out.stdout
    best = read_schemes(run / "best-7.json")[0]
    assert str(best.domain) == "GF4" and verify(best).valid


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "2x2x2", "-d", "GF4"], "extension field GF4"),
        (["search", "2x2x2", "-d", "F2", "--searcher", "flip-gfq"], "runs over GF4, F9, not F2"),
    ],
)
def test_cli_bad_field_input_is_one_line(flipforge_cmd, tmp_path, args, message):
    out = subprocess.run(
        [*flipforge_cmd, *args, "--no-db", "--run-dir", str(tmp_path / "r"), "--time", "5s"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def _f9_index(x: object) -> int:
    a, b = parts(x)
    return int(a) % 3 + 3 * (int(b) % 3)


def test_lift_f9_keeps_an_exact_gaussian_scheme():
    """Strassen with terms rescaled by ±i, read mod 3 in F9 = F3[i], lifts back to itself over Q(i)."""
    s = Scheme.strassen()
    u, v, w = (np.array(a, dtype=object) for a in s.factors)
    i = Gaussian(0, 1)
    u[0], v[0] = u[0] * i, v[0] * -i
    v[3], w[3] = v[3] * i, w[3] * -i
    f9 = Scheme.from_arrays((2, 2, 2), *(np.vectorize(_f9_index)(a).astype(np.int64) for a in (u, v, w)), "F9")
    assert verify(f9).valid
    res = lift_f9(f9, 6)
    assert res.lifted and res.scheme is not None and verify(res.scheme, "QI").valid
    assert res.scheme.u.tolist() == u.tolist() and res.scheme.w.tolist() == w.tolist()


def test_lift_f9_of_a_wide_walk_gives_a_complex_scheme():
    """A <2,2,2> walk over F9 with scalars from the whole field ends at rank 7 with i in the scheme;
    Hensel lifting in Z_3[i] and rational reconstruction give a rank-7 scheme over Q(i), not over Q."""
    s = _search("2x2x2", "F9", 3, 10, 7, wide=1000)
    assert s.best_rank() == 7
    f9 = s.pools[7][0].to_scheme(parse_target("2x2x2"), "F9")
    assert max(int(a.max()) for a in f9.factors) >= 3  # an element outside F3
    res = lift_f9(f9, 10)
    assert res.lifted and res.scheme is not None
    assert verify(res.scheme, "QI").valid and coefficient_class(res.scheme) == "QI"
    assert not verify(res.scheme, "Q").valid


def test_lift_f9_refuses_what_does_not_hold():
    bad = _strassen(9)
    u = bad.u.copy()
    u[0, 0] = 3
    res = lift_f9(Scheme.from_arrays((2, 2, 2), u, bad.v, bad.w, "F9"))
    assert not res.lifted and "not valid over F9" in (res.reason or "")


def test_element_indices_are_never_read_as_numbers(tmp_path):
    s = _strassen(9)
    assert verify(s).valid
    for ring in ("F3", "Z", "Q", "GF4"):
        res = verify(s, ring)
        assert not res.valid and "element indices" in (res.reason or ""), ring
    with pytest.raises(FlipforgeError, match="element indices"):
        write_schemes([s], tmp_path / "s.exp")
    (path,) = write_schemes([s], tmp_path / "s.json")
    assert str(read_schemes(path)[0].domain) == "F9" and verify(read_schemes(path)[0]).valid


def test_cli_lifts_an_f9_scheme_to_qi_and_refuses_other_lifts_and_cse(flipforge_cmd, tmp_path):
    from flipforge.schemes import write_schemes

    write_schemes([_strassen(9)], tmp_path / "s9.json")
    run = [*flipforge_cmd]
    out = subprocess.run([*run, "lift", "s9.json", "--to", "QI", "--json", "-o", "q.json"], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["lifted"] and summary["from"] == "F9"
    lifted = read_schemes(tmp_path / "q.json")[0]
    assert verify(lifted).valid and lifted.rank == 7
    for args in (["lift", "s9.json", "--to", "Z"], ["reduce", "s9.json"]):
        bad = subprocess.run([*run, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
