"""Property tests: symmetries keep valid schemes valid; the verifier never accepts a wrong one."""

from __future__ import annotations

import numpy as np
from flipforge.schemes import Scheme
from flipforge.schemes.symmetry import isotropy, scale_terms
from flipforge.verify import verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Valid schemes in several domains: built-ins, and a scheme valid over F2 only.
F2_ONLY = Scheme.from_arrays(
    (2, 2, 2),
    # Strassen with its -1 read as 1: valid mod 2, not over Z
    np.abs(Scheme.strassen().u),
    np.abs(Scheme.strassen().v),
    np.abs(Scheme.strassen().w),
    domain="F2",
)
SCHEMES = {
    "strassen/Z": (Scheme.strassen(), "Z"),
    "naive-2x3x2/Z": (Scheme.naive("2x3x2"), "Z"),
    "strassen/F3": (Scheme.strassen(), "F3"),
    "strassen-abs/F2": (F2_ONLY, "F2"),
}
settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


def unimodular(draw, n: int) -> np.ndarray:
    """A random integer matrix with det ±1 (a product of elementary operations)."""
    m = np.eye(n, dtype=np.int64)
    for _ in range(draw(st.integers(0, 6))):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if i != j:
            m[i] += draw(st.integers(-2, 2)) * m[j]
        else:
            m[i] *= -1
    return m


@st.composite
def scheme_and_isotropy(draw):
    name = draw(st.sampled_from(sorted(SCHEMES)))
    scheme, domain = SCHEMES[name]
    n, m, p = scheme.fmt
    return scheme, domain, unimodular(draw, n), unimodular(draw, m), unimodular(draw, p)


@given(scheme_and_isotropy())
def test_isotropy_keeps_validity(case):
    scheme, domain, x, y, z = case
    moved = isotropy(scheme, x, y, z)
    assert moved.is_integral
    assert verify(moved, domain).valid


@given(st.sampled_from(sorted(SCHEMES)), st.randoms(use_true_random=False))
def test_term_permutation_keeps_validity(name, rnd):
    scheme, domain = SCHEMES[name]
    order = list(range(scheme.rank))
    rnd.shuffle(order)
    assert verify(scheme.take_terms(order), domain).valid


@given(
    st.lists(st.sampled_from([-3, -2, -1, 1, 2, 5]), min_size=7, max_size=7),
    st.lists(st.sampled_from([-1, 1, 3]), min_size=7, max_size=7),
)
def test_term_scaling_keeps_validity_over_q(a, b):
    assert verify(scale_terms(Scheme.strassen(), a, b), "Q").valid


@given(st.sampled_from(sorted(SCHEMES)), st.data())
def test_changing_one_coefficient_is_rejected(name, data):
    scheme, domain = SCHEMES[name]
    factor = data.draw(st.integers(0, 2))
    arrs = [a.copy() for a in scheme.factors]
    row = data.draw(st.integers(0, scheme.rank - 1))
    col = data.draw(st.integers(0, arrs[factor].shape[1] - 1))
    others = [arrs[i][row] for i in range(3) if i != factor]
    p = 2 if domain == "F2" else 3 if domain == "F3" else None
    assert all(np.any(o % p != 0) if p else np.any(o != 0) for o in others)  # the term is not a zero term
    delta = data.draw(st.sampled_from([1] if p == 2 else [1, -1] if p == 3 else [1, -1, 2, 7]))
    arrs[factor][row, col] += delta
    broken = Scheme.from_arrays(scheme.tensor, *arrs)
    res = verify(broken, domain)
    assert not res.valid and res.failures > 0


@given(st.sampled_from(sorted(SCHEMES)), st.data())
def test_dropping_one_term_is_rejected(name, data):
    scheme, domain = SCHEMES[name]
    drop = data.draw(st.integers(0, scheme.rank - 1))
    keep = [t for t in range(scheme.rank) if t != drop]
    assert not verify(scheme.take_terms(keep), domain).valid


def test_f2_only_scheme_is_not_valid_over_z():
    assert verify(F2_ONLY, "F2").valid and not verify(F2_ONLY, "Z").valid
