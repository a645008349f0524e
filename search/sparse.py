"""Sparser schemes at the same rank: a ZT flip walk that keeps the scheme with fewest nonzeros.

Fewer nonzero coefficients mean fewer naive additions (naive = nonzeros - 2*rank - outputs for
a valid matmul scheme), which is the usual first step before common-subexpression elimination.
"""

from __future__ import annotations

from flipforge.schemes import Scheme, SchemeError
from flipforge.verify import verify

from .kernels.index import new_arena, read_factors
from .kernels.walk import walk_sparse
from .packing import Packed, pack, unpack

__all__ = ["sparsest"]


def sparsest(scheme: Scheme, flips: int, seed: int = 0) -> Scheme:
    """Walk ``flips`` ZT flips from ``scheme`` (coefficients in {-1,0,1}) and return the sparsest
    scheme met at the lowest rank met, verified over Z."""
    if flips < 1:
        raise SchemeError(f"the walk needs at least one flip, not {flips}")
    start = pack(scheme, "ZT")
    arena = new_arena(start.fp, start.fn, start.code, start.rank + 2, seed)
    best = arena.copy()
    walk_sparse(arena, flips, best)
    fp, fn = read_factors(best)
    found = unpack(Packed(fp, fn, "ZT"), scheme.tensor, {**scheme.meta, "sparsified": {"flips": flips, "seed": seed}})
    result = verify(found, "Z")
    if not result.valid:  # a kernel bug must never reach the user
        raise SchemeError(f"internal error: the sparsified scheme is invalid ({result.summary()})")
    return found
