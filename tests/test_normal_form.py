"""One sign/scale normal form: the pool key (bitplanes) and the database hash agree.

``Packed.key`` (search pools) and ``canonical_hash`` (the scheme database) both identify a
scheme up to term order and the scaling a⊗b⊗c = (λa)⊗(μb)⊗(c/λμ), with u and v normalised to a
first nonzero entry of +1. These properties tie the two: equivalent schemes get equal keys
and equal hashes, and two schemes share a key exactly when they share a hash.
"""

from __future__ import annotations

import numpy as np
from flipforge.schemes import Domain, Scheme, parse_target
from flipforge.schemes.canonical import canonical_hash
from flipforge.search.packing import pack
from hypothesis import given, settings
from hypothesis import strategies as st

TENSOR = parse_target("2x2x2")


def _scheme(seed: int, domain: str, rank: int) -> Scheme:
    rng = np.random.default_rng(seed)
    low = 0 if domain == "F2" else -1
    factors = []
    for _ in range(3):
        a = rng.integers(low, 2, size=(rank, 4))
        a[a.any(axis=1) == 0, rng.integers(4)] = 1  # no zero factor (the kernels drop those terms)
        factors.append(a)
    return Scheme(TENSOR, *factors, Domain.parse(domain))


def _equivalent(s: Scheme, seed: int) -> Scheme:
    """The same terms in another order, each with u, v scaled by ±1 and w by the inverse."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(s.rank)
    lam = rng.choice([-1, 1], size=(s.rank, 1))
    mu = rng.choice([-1, 1], size=(s.rank, 1))
    u, v, w = (np.asarray(a, dtype=np.int64)[order] for a in s.factors)
    return Scheme(TENSOR, lam * u, mu * v, lam * mu * w, s.domain)


domains = st.sampled_from(["F2", "F3", "ZT"])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 2**32), domains, st.integers(1, 6))
def test_equivalent_schemes_share_key_and_hash(seed, other, domain, rank):
    s = _scheme(seed, domain, rank)
    t = _equivalent(s, other)
    assert pack(s, domain).key() == pack(t, domain).key()
    assert canonical_hash(s, domain) == canonical_hash(t, domain)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 2**32), domains, st.integers(1, 4))
def test_a_shared_key_is_a_shared_hash(seed, other, domain, rank):
    s, t = _scheme(seed, domain, rank), _scheme(other, domain, rank)
    same_key = pack(s, domain).key() == pack(t, domain).key()
    assert same_key == (canonical_hash(s, domain) == canonical_hash(t, domain))


def test_one_changed_term_changes_both():
    s = _scheme(7, "ZT", 5)
    u, v, w = (np.asarray(a, dtype=np.int64).copy() for a in s.factors)
    w[0] = -w[0]  # a different rank-one term (not a rescaling of the same one)
    t = Scheme(TENSOR, u, v, w, s.domain)
    assert pack(s, "ZT").key() != pack(t, "ZT").key()
    assert canonical_hash(s, "ZT") != canonical_hash(t, "ZT")
