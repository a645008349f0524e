"""Complex schemes over Q(i): Gaussian rationals read, verified exactly, stored, written and exported."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Domain, FlipforgeError, Scheme, SchemeError, coefficient_class, read_schemes
from flipforge.schemes.canonical import canonical_hash
from flipforge.schemes.coeffs import Gaussian, exact_array, gaussian, parts, to_exact
from flipforge.schemes.db import SchemeDB, rank_classes
from flipforge.schemes.export import export_code
from flipforge.schemes.formats import write_schemes
from flipforge.schemes.formats.native import from_native_dict, native_text
from flipforge.verify import valid_over, verify
from hypothesis import given, settings
from hypothesis import strategies as st

NPZ = "alphaevolve/alphaevolve_decompositions.npz"

rationals = st.fractions(max_denominator=12).filter(lambda q: abs(q.numerator) < 10**6)
values = st.builds(gaussian, rationals, rationals)


def _strassen_i() -> Scheme:
    """Strassen with term t scaled by (i, -i, 1) and term t+1 by (1, i, -i): complex, still exact."""
    s = Scheme.strassen()
    u, v, w = (np.array(a, dtype=object) for a in s.factors)
    i = Gaussian(0, 1)
    u[0], v[0] = u[0] * i, v[0] * -i
    v[3], w[3] = v[3] * i, w[3] * -i
    return Scheme.from_arrays((2, 2, 2), u, v, w, "QI")


def _alphaevolve(reference: Path) -> dict[tuple[int, int, int], Scheme]:
    return {s.fmt: s for s in read_schemes(reference / NPZ) if s.is_complex}  # type: ignore[misc]


@given(values)
def test_gaussian_text_round_trip(x):
    assert to_exact(str(x)) == x
    assert to_exact(json.loads(json.dumps(str(x)))) == x


@given(values, values, values)
def test_gaussian_arithmetic_is_a_field(a, b, c):
    assert (a + b) * c == a * c + b * c
    assert a - a == 0 and a * 1 == a
    if b != 0:
        assert (a * b) / b == a


def test_text_forms():
    assert to_exact("1/2+1/2i") == Gaussian(Fraction(1, 2), Fraction(1, 2))
    assert to_exact("-i") == Gaussian(0, -1) and to_exact(" 2 - 3/4 i ") == Gaussian(2, Fraction(-3, 4))
    assert to_exact("1/2i") == Gaussian(0, Fraction(1, 2))  # the rational before i is the imaginary part
    assert to_exact("0i") == 0 and type(to_exact("3+0i")) is int
    for bad in ("1/0i", "1+", "i i", "1/2+1/2"):
        with pytest.raises(SchemeError):
            to_exact(bad)
    arr = exact_array(np.array([[0.5 + 0.5j, 1, -1j]], dtype=np.complex64))
    assert arr.tolist() == [[Gaussian(Fraction(1, 2), Fraction(1, 2)), 1, Gaussian(0, -1)]]
    with pytest.raises(SchemeError):
        exact_array(np.array([[0.1 + 1j]]))  # not an exact short rational: refused, never rounded


def test_complex_scheme_is_judged_over_qi_only():
    s = _strassen_i()
    assert s.is_complex and coefficient_class(s) == "QI"
    assert verify(s).valid and verify(s).domain == Domain.parse("Q(i)")
    for ring in ("ZT", "Z", "Q", "F2", "F3", "F5"):
        res = verify(s, ring)
        assert not res.valid and "complex" in (res.reason or ""), ring
    assert valid_over(s) == ["QI"]
    assert rank_classes("QI", "QI") == []  # a Q(i) rank never lowers a real best-known rank
    # a real scheme holds over Q(i) too
    assert verify(Scheme.strassen(), "QI").valid


def test_wrong_complex_scheme_is_rejected():
    s = _strassen_i()
    u = s.u.copy()
    u[0, 0] = 1  # i -> 1 in one place: a11*b11 and a11*b22 now carry -i
    bad = Scheme.from_arrays((2, 2, 2), u, s.v, s.w, "QI")
    res = verify(bad)
    assert not res.valid and res.failures > 0 and "INVALID" in res.summary()
    assert any(isinstance(f.got, Gaussian) for f in res.first)
    assert "-i" in res.summary()


def _corrupt(s: Scheme, factor: int, term: int, col: int, delta: object) -> Scheme:
    arrs = [np.array(a, dtype=object) for a in s.factors]
    arrs[factor][term, col] = arrs[factor][term, col] + delta
    return Scheme.from_arrays(s.tensor, *arrs, "QI")


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_any_single_corruption_is_rejected(data):
    s = _strassen_i()
    factor = data.draw(st.integers(0, 2))
    term = data.draw(st.integers(0, s.rank - 1))
    col = data.draw(st.integers(0, 3))
    delta = data.draw(values.filter(lambda x: x != 0))
    # each term's other two factors are nonzero, so the sum changes by delta * (a nonzero rank-one tensor)
    assert not verify(_corrupt(s, factor, term, col, delta)).valid


def test_native_json_round_trip(tmp_path):
    s = _strassen_i()
    text = native_text(s)
    obj = json.loads(text)
    assert obj["domain"] == "QI" and "i" in obj["u"][0][0]
    back = from_native_dict(obj, "x")
    assert back.domain == Domain.parse("QI") and verify(back).valid
    for a, b in zip(s.factors, back.factors, strict=True):
        assert a.tolist() == b.tolist()
    assert canonical_hash(back, "QI") == canonical_hash(s, "QI")
    # files: native JSON and .npz keep the coefficients; formats that cannot hold them refuse
    (path,) = write_schemes([s], tmp_path / "s.json")
    assert read_schemes(path)[0].u.tolist() == s.u.tolist()
    (npz,) = write_schemes([s], tmp_path / "s.npz")
    assert verify(read_schemes(npz)[0]).valid and read_schemes(npz)[0].w.tolist() == s.w.tolist()
    with pytest.raises(FlipforgeError, match="complex"):
        write_schemes([s], tmp_path / "s.exp")


def test_canonical_hash_ignores_term_order_and_scaling():
    s = _strassen_i()
    h = canonical_hash(s, "QI")
    assert canonical_hash(s.take_terms(list(range(s.rank))[::-1]), "QI") == h
    u, v, w = (np.array(a, dtype=object) for a in s.factors)
    lam = Gaussian(1, 2)
    u[2], w[2] = u[2] * lam, w[2] * lam.inverse()
    assert canonical_hash(Scheme.from_arrays((2, 2, 2), u, v, w, "QI"), "QI") == h
    # _strassen_i only rescales Strassen's terms: over Q(i) it is the same set of rank-one tensors
    assert canonical_hash(Scheme.strassen(), "QI") == h
    assert canonical_hash(Scheme.strassen_winograd(), "QI") != h


def _multiplies(code: str, n: int, m: int, p: int, scale: int, lang: str) -> None:
    ns: dict = {}
    exec(compile(code, "<export>", "exec"), ns)  # noqa: S102 - the code we just generated
    rng = np.random.default_rng(7)
    a = rng.integers(-9, 10, (n * scale, m * scale)) + 1j * rng.integers(-9, 10, (n * scale, m * scale))
    b = rng.integers(-9, 10, (m * scale, p * scale)) + 1j * rng.integers(-9, 10, (m * scale, p * scale))
    if lang == "numpy":
        assert np.array_equal(ns["matmul"](a, b), a @ b)
        if scale > 1:
            assert np.array_equal(ns["matmul"](a, b, True, 1), a @ b)
    else:
        assert np.array_equal(np.array(ns["matmul"](a.tolist(), b.tolist())), a @ b)


@pytest.mark.parametrize("lang", ["numpy", "python"])
def test_export_multiplies_complex_matrices(lang):
    s = _strassen_i()
    _multiplies(export_code(s, lang, domain="QI"), 2, 2, 2, 4 if lang == "numpy" else 1, lang)
    with pytest.raises(SchemeError, match="numpy or python"):
        export_code(s, "c", domain="QI")
    with pytest.raises(SchemeError, match="QI"):
        export_code(s, "numpy", domain="Q")


def test_alphaevolve_complex_schemes_verify_exactly(reference):
    found = _alphaevolve(reference)
    assert sorted(found) == [(3, 4, 7), (4, 4, 4)]
    assert found[(4, 4, 4)].rank == 48 and found[(3, 4, 7)].rank == 63
    for s in found.values():
        res = verify(s)
        assert res.valid and str(res.domain) == "QI"
        assert not verify(s, "Q").valid and not verify(s, "F3").valid
        # all coefficients are in ½Z[i]
        halves = {Fraction(2 * q).denominator for a in s.factors for x in a.flat for q in parts(x)}
        assert halves == {1}


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_corrupted_alphaevolve_copy_is_rejected(reference, data):
    s = _alphaevolve(reference)[(4, 4, 4)]
    factor = data.draw(st.integers(0, 2))
    term = data.draw(st.integers(0, s.rank - 1))
    col = data.draw(st.integers(0, 15))
    delta = data.draw(st.sampled_from([Gaussian(0, Fraction(1, 2)), Fraction(1, 2), Gaussian(1, 1), -1]))
    assert not verify(_corrupt(s, factor, term, col, delta)).valid


def test_alphaevolve_stored_and_exported(reference, tmp_path):
    found = _alphaevolve(reference)
    with SchemeDB(tmp_path / "db.sqlite", verifier=lambda sch, dom: verify(sch, dom)) as db:
        for s in found.values():
            sid, new = db.add(s, "QI", source="alphaevolve")
            assert new and db.add(s, "QI")[1] is False
            back = db.get(sid).scheme()
            assert back.domain == Domain.parse("QI") and verify(back).valid
            assert back.u.tolist() == s.u.tolist()
        assert db.count(domain="QI") == 2
    for (n, m, p), s in found.items():
        _multiplies(export_code(s, "numpy", domain="QI"), n, m, p, 2, "numpy")


def test_cli_verify_reads_alphaevolve(flipforge_cmd, reference):
    out = subprocess.run(
        [*flipforge_cmd, "verify", str(reference / "alphaevolve"), "--json"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 15 and all(r["valid"] for r in rows)
    complex_rows = [r for r in rows if r["domain"] == "QI"]
    assert sorted(r["rank"] for r in complex_rows) == [48, 63]
    assert all(r["valid_over"] == ["QI"] and r["coefficients"] == "QI" for r in complex_rows)
