"""Domains, formats, the target tensor, the Scheme object and its metrics."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from flipforge.schemes import (
    Domain,
    DomainError,
    Scheme,
    SchemeError,
    TensorError,
    coefficient_class,
    matmul_tensor,
    metrics,
    naive_additions,
    parse_format,
)
from flipforge.schemes.coeffs import exact_array, to_fraction
from flipforge.verify import valid_over, verify


@pytest.mark.parametrize(
    "text,name,p",
    [
        ("F2", "F2", 2),
        ("f3", "F3", 3),
        ("GF(7)", "F7", 7),
        ("F101", "F101", 101),
        ("zt", "ZT", None),
        ("Z", "Z", None),
        ("q", "Q", None),
    ],
)
def test_domain_parse(text, name, p):
    d = Domain.parse(text)
    assert (d.name, d.p) == (name, p)


@pytest.mark.parametrize("text", ["F4", "F1", "F9", "R", "", "GF(15)"])
def test_domain_rejects_non_primes_and_unknowns(text):
    with pytest.raises(DomainError):
        Domain.parse(text)


@pytest.mark.parametrize("text,dims", [("3x3x3", (3, 3, 3)), ("2,3,4", (2, 3, 4)), ("<1, 2, 5>", (1, 2, 5))])
def test_parse_format(text, dims):
    assert parse_format(text) == dims


@pytest.mark.parametrize("text", ["3x3", "3x0x2", "a,b,c", "2x2x2x2", "-1,2,2"])
def test_parse_format_rejects(text):
    with pytest.raises(TensorError):
        parse_format(text)


def test_matmul_tensor_is_the_cyclic_convention():
    t = matmul_tensor("2x3x4")
    n, m, p = 2, 3, 4
    assert t.shape == (6, 12, 8) and int(t.array.sum()) == n * m * p
    a = np.arange(6).reshape(2, 3) + 1
    b = np.arange(12).reshape(3, 4) - 5
    # contracting with vec(A) and vec(B) gives vec(C^T)
    ct = np.einsum("ijk,i,j->k", t.array, a.reshape(-1), b.reshape(-1))
    assert np.array_equal(ct.reshape(p, n).T, a @ b)


def test_strassen_and_naive_are_valid_everywhere():
    for s in (Scheme.strassen(), Scheme.naive("3x4x5"), Scheme.naive("1x1x1"), Scheme.naive("1x5x2")):
        assert valid_over(s) == ["F2", "F3", "Z", "Q"]
        assert verify(s, "ZT").valid and verify(s, "F7").valid


def test_metrics_of_strassen_and_naive():
    m = metrics(Scheme.strassen())
    assert (m.rank, m.additions_naive, m.coefficients) == (7, 18, "ZT")
    assert m.omega == pytest.approx(2.80735, abs=1e-4)
    naive = Scheme.naive("3x4x5")
    assert naive_additions(naive) == 3 * 5 * (4 - 1)
    assert metrics(naive).omega == pytest.approx(3.0)


def test_coefficient_class():
    s = Scheme.strassen()
    assert coefficient_class(s) == "ZT"
    doubled = Scheme.from_arrays((2, 2, 2), s.u * 2, s.v, s.w)
    assert coefficient_class(doubled) == "Z"
    halved = Scheme.from_arrays((2, 2, 2), s.u.astype(object) * Fraction(1, 2), s.v, s.w * 2)
    assert coefficient_class(halved) == "Q" and verify(halved, "Q").valid


def test_construction_checks_shapes_and_domains():
    s = Scheme.strassen()
    with pytest.raises(SchemeError, match="shape"):
        Scheme.from_arrays((2, 2, 2), s.u[:, :3], s.v, s.w)
    with pytest.raises(SchemeError, match="shape"):
        Scheme.from_arrays((2, 2, 2), s.u[:6], s.v, s.w)
    with pytest.raises(SchemeError, match="not in"):
        Scheme.from_arrays((2, 2, 2), s.u * 2, s.v, s.w, domain="ZT")
    half = s.u.astype(object) * Fraction(1, 2)
    with pytest.raises(SchemeError, match="not an integer"):
        Scheme.from_arrays((2, 2, 2), half, s.v, s.w, domain="Z")
    with pytest.raises(SchemeError, match="divisible by 2"):
        Scheme.from_arrays((2, 2, 2), half, s.v, s.w, domain="F2")
    assert Scheme.from_arrays((2, 2, 2), half, s.v, s.w * 2, domain="F3").domain == Domain.parse("F3")


@pytest.mark.parametrize("bad", ["1/0", "x", "1.5/2", float("nan"), 0.1, 1j])
def test_coefficients_are_exact_or_refused(bad):
    with pytest.raises(SchemeError):
        to_fraction(bad)


def test_float_dyadics_are_kept_exact():
    arr = exact_array(np.array([[0.5, -0.125, 3.0]]))
    assert list(arr[0]) == [Fraction(1, 2), Fraction(-1, 8), 3]
    assert exact_array(np.array([[1.0, -2.0]])).dtype == np.int64


def test_verify_reports_failures_exactly():
    s = Scheme.strassen()
    res = verify(s.take_terms(list(range(6))), "Z")
    assert not res.valid and res.failures == 4 and len(res.first) == 4
    assert "a12*b21*c11" in res.summary()
    res = verify(Scheme.from_arrays((2, 2, 2), s.u.astype(object) * Fraction(1, 2), s.v, s.w), "F2")
    assert not res.valid and "divisible by 2" in res.reason
