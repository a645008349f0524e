"""Walk tuning and the kernels' domain codes (kept free of numba so the command line starts fast)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WalkParams", "F2", "F3", "ZT", "DOMAIN_CODES"]

# the kernels' domain codes
F2, F3, ZT = 0, 1, 2
DOMAIN_CODES = {"F2": F2, "F3": F3, "ZT": ZT}


@dataclass(frozen=True)
class WalkParams:
    """Tuning of the walk policy; the defaults work for formats up to about 5x5x5."""

    pool_size: int = 50
    plus_after: int = 5_000
    plus_delta: int = 3
    restart_flips: int = 10_000_000
    chunk_flips: int = 200_000
