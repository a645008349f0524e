"""The kernels' moves keep the tensor exactly and keep their indexes consistent."""

from __future__ import annotations

import numpy as np
import pytest
from flipforge.schemes import Scheme, matmul_tensor
from flipforge.search.kernels.arith import DOMAIN_CODES
from flipforge.search.kernels.index import CAP, NPAIRS, O_PAIRS, RANK, new_arena, read_factors
from flipforge.search.kernels.moves import flip, plus, split
from flipforge.search.kernels.walk import walk
from flipforge.search.packing import Packed, pack, unpack
from flipforge.verify import verify
from hypothesis import given, settings
from hypothesis import strategies as st

FORMATS = ["2x2x2", "2x2x3", "2x3x4", "3x3x3"]
DOMAINS = list(DOMAIN_CODES)


def _as_scheme(arena: np.ndarray, domain: str, fmt: str) -> Scheme:
    fp, fn = read_factors(arena)
    return unpack(Packed(fp, fn, domain), matmul_tensor(fmt))


def _brute_force_pairs(arena: np.ndarray, domain: str) -> set[tuple[int, int, int]]:
    """Every pair of terms whose factors agree (up to sign outside F2), found the slow way."""
    fp, fn = read_factors(arena)
    r = fp.shape[0]
    out = set()
    for s in range(3):
        for i in range(r):
            for j in range(i + 1, r):
                same = fp[i, s] == fp[j, s] and fn[i, s] == fn[j, s]
                negated = domain != "F2" and fp[i, s] == fn[j, s] and fn[i, s] == fp[j, s]
                if same or negated:
                    out.add((i, j, s))
    return out


def _indexed_pairs(arena: np.ndarray) -> set[tuple[int, int, int]]:
    base = int(arena[O_PAIRS])
    rows = arena[base : base + 3 * int(arena[NPAIRS])].reshape(-1, 3)
    return {(int(i), int(j), int(s)) for i, j, s in rows}


def _check(arena: np.ndarray, domain: str, fmt: str) -> None:
    scheme = _as_scheme(arena, domain, fmt)
    result = verify(scheme, domain)
    assert result.valid, result.summary()
    assert _indexed_pairs(arena) == _brute_force_pairs(arena, domain)
    if domain == "ZT":
        assert all(np.abs(a).max() <= 1 for a in scheme.factors)


@settings(max_examples=40, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    domain=st.sampled_from(DOMAINS),
    seed=st.integers(0, 2**32 - 1),
    moves=st.lists(st.sampled_from(["flip", "flip", "flip", "plus", "split"]), min_size=1, max_size=60),
)
def test_every_move_keeps_the_tensor_and_the_index(fmt: str, domain: str, seed: int, moves: list[str]) -> None:
    start = pack(Scheme.naive(matmul_tensor(fmt)), domain)
    arena = new_arena(start.fp, start.fn, start.code, start.rank + 8, seed)
    for move in moves:
        {"flip": flip, "plus": plus, "split": split}[move](arena)
        assert 0 < arena[RANK] <= arena[CAP]
        _check(arena, domain, fmt)


@pytest.mark.parametrize("domain", DOMAINS)
def test_long_walks_stay_valid(domain: str) -> None:
    """Thousands of flips with reductions and plus transitions, checked every few hundred."""
    start = pack(Scheme.naive(matmul_tensor("3x3x3")), domain)
    arena = new_arena(start.fp, start.fn, start.code, start.rank + 5, 11)
    ranks = set()
    for _ in range(30):
        walk(arena, 500, 0, 200, 3, start.rank)
        _check(arena, domain, "3x3x3")
        ranks.add(int(arena[RANK]))
    assert len(ranks) > 1  # reductions and plus transitions did happen


@pytest.mark.parametrize("domain", ["F3", "ZT"])
def test_walks_from_strassen_keep_signs_right(domain: str) -> None:
    start = pack(Scheme.strassen(), domain)
    arena = new_arena(start.fp, start.fn, start.code, 10, 5)
    for _ in range(50):
        walk(arena, 50, 0, 20, 2, 7)
        _check(arena, domain, "2x2x2")


def test_packing_round_trip_and_key() -> None:
    s = Scheme.strassen()
    for domain in DOMAINS:
        packed = pack(s, domain)
        back = unpack(packed, s.tensor)
        assert verify(back, domain).valid
        shuffled = Packed(packed.fp[::-1].copy(), packed.fn[::-1].copy(), domain)
        assert shuffled.key() == packed.key()
    # over ZT, negating two factors of a term is the same term
    packed = pack(s, "ZT")
    fp, fn = packed.fp.copy(), packed.fn.copy()
    fp[0, :2], fn[0, :2] = packed.fn[0, :2], packed.fp[0, :2]
    assert Packed(fp, fn, "ZT").key() == packed.key()
    assert verify(unpack(Packed(fp, fn, "ZT"), s.tensor), "ZT").valid
