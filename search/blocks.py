"""A start built from blocks: direct sums of short searches on smaller formats (``--start blocks``).

From the naive scheme, random flips on large or rectangular formats (2x5x5, 3x5x5, 5x5x5,
6x6x6) can run hundreds of millions of flips before the first reduction: the walk spreads over
dense schemes where two terms rarely come to share two factors. Published searches there start
from schemes assembled from smaller ones. This does the same from scratch: split the largest
side of <n,m,p> in two, build each half the same way (down to formats small enough for a walk
from the naive scheme), walk each half down for a bounded number of flips, and join the halves
as a direct sum (``schemes.meta.merge``). The result is exact and verified like any start.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from flipforge.schemes import Scheme, Tensor
from flipforge.schemes.meta import merge
from flipforge.schemes.tensor import format_name, matmul_tensor
from flipforge.verify import verify

from .packing import pack, unpack

__all__ = ["block_start", "resolve_start", "LEAF_VOLUME", "BLOCK_FLIPS", "BLOCKS_FROM_SIDE", "BLOCK_SEARCHERS"]

LEAF_VOLUME = 32
"""Formats with n*m*p at most this (2x4x4, 3x3x3, 2x3x5) are walked from their naive scheme."""
BLOCK_FLIPS = 20_000_000
"""Flips a walk spends on one block (about two seconds) unless it reaches the block's best-known rank."""

BLOCKS_FROM_SIDE = 5
"""``--start auto`` builds blocks for formats with a side this long or longer (2x4x5, 5x5x5, 6x6x6);
below it (up to 4x4x4) walks from the naive scheme reach the best-known ranks fast."""
BLOCK_SEARCHERS = ("flip-pool",)
"""Searchers that ``auto`` gives a block start (the others keep their own: symmetric needs an
invariant scheme, numeric ignores the start)."""


def resolve_start(start: str, tensor: Tensor, searcher: str, domain: str) -> str:
    """``auto`` becomes ``blocks`` for a flip-pool search of a format with a side of
    ``BLOCKS_FROM_SIDE`` or more, or of any format over F3 (where the blocks are walked over ZT),
    else ``naive``; any other start is kept."""
    if start != "auto" or tensor.fmt is None or searcher not in BLOCK_SEARCHERS:
        return "naive" if start == "auto" else start
    return "blocks" if domain == "F3" or max(tensor.fmt) >= BLOCKS_FROM_SIDE else "naive"


def walk_domain(domain: str) -> str:
    """Where the blocks are walked. Over F3 every sum is allowed and walks from the naive scheme
    drift to dense schemes that seldom reduce (2x4x4 stays at 32 where ZT walks reach 26); ternary
    schemes are F3 schemes, so F3 blocks are walked over ZT and the F3 search goes on from there."""
    return "ZT" if domain == "F3" else domain


def _split(fmt: tuple[int, int, int]) -> tuple[int, int, int]:
    """(axis, first, second): the largest side cut into two halves (the last such axis on ties, so
    that <n,n,n> is cut along p first, as C = [A B1 | A B2])."""
    axis = max(range(3), key=lambda d: (fmt[d], d))
    return axis, fmt[axis] // 2, fmt[axis] - fmt[axis] // 2


def _descend(scheme: Scheme, domain: str, goal: int | None, flips: int, seed: int) -> Scheme:
    """Walk ``scheme`` down for at most ``flips`` flips (or to ``goal``); the lowest scheme reached."""
    from .pool import PoolSearch
    from .searchers.flip_pool import FlipPoolParams

    packed = pack(scheme, domain)
    # plus transitions only after long fruitless stretches: near a direct sum, reductions are rare
    # and early plus transitions keep the walker above its lowest rank
    params = FlipPoolParams(pool_size=8, plus_after=1_000_000, restart_flips=5_000_000)
    search = PoolSearch({packed.rank: [packed]}, domain, params, seed)
    best = packed
    while search.flips < flips and (goal is None or best.rank > goal):
        for found in search.step():
            if found.rank < best.rank:
                best = found
    if best is packed:
        return scheme
    return unpack(best, scheme.tensor, {"found_by": "blocks"})


def block_start(
    tensor: Tensor,
    domain: str,
    seed: int,
    *,
    known: Callable[[Tensor], int | None] = lambda t: None,
    flips: int = BLOCK_FLIPS,
    note: Callable[[str], None] | None = None,
) -> Scheme:
    """A verified scheme for the matmul ``tensor`` over ``domain`` (F2, F3, ZT), built from blocks.

    ``known(t)`` gives the best-known rank of a block (its walk stops there); ``flips`` bounds the
    walk on each block. Deterministic for a seed. Formats too small to split give the naive
    scheme (over F3: the naive scheme walked down over ZT).
    """
    if tensor.fmt is None:
        raise ValueError("a start from blocks needs a matrix multiplication format")
    built: dict[tuple[int, int, int], Scheme] = {}
    walk_dom = walk_domain(domain)
    rng = np.random.default_rng([seed, 0xB10C])

    def build(fmt: tuple[int, int, int], top: bool) -> Scheme:
        if fmt in built:
            return built[fmt]
        t = matmul_tensor(fmt)
        if fmt[0] * fmt[1] * fmt[2] <= LEAF_VOLUME:
            scheme = Scheme.naive(t)
        else:
            axis, a, b = _split(fmt)
            first = build(tuple(a if d == axis else fmt[d] for d in range(3)), False)
            second = build(tuple(b if d == axis else fmt[d] for d in range(3)), False)
            scheme = merge(first, second, axis)
        if not top or walk_dom != domain:  # the top level is walked by the search itself
            scheme = _descend(scheme, walk_dom, known(t), flips, int(rng.integers(2**63)))
            if note is not None:
                note(f"block {format_name(fmt)}: rank {scheme.rank}")
        built[fmt] = scheme
        return scheme

    scheme = build(tuple(int(x) for x in tensor.fmt), True)
    result = unpack(pack(scheme, domain), tensor, {"found_by": "blocks", "seed": seed})
    report = verify(result)
    if not report.valid:  # merges and walks are exact; this would be a bug, never a start
        raise AssertionError(f"block start for {tensor.label()} is not valid: {report}")
    return result
