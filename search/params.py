"""Walk tuning and the kernels' domain codes (kept free of numba so the command line starts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["WalkParams", "F2", "F3", "ZT", "DOMAIN_CODES", "TUNING_LIMIT", "check_tuning"]

# the kernels' domain codes
F2, F3, ZT = 0, 1, 2
DOMAIN_CODES = {"F2": F2, "F3": F3, "ZT": ZT}

TUNING_LIMIT = 2**62  # the kernels count in int64
_MINIMUM = {"plus_after": 1, "plus_delta": 0, "restart_flips": 1, "chunk_flips": 1}


@dataclass(frozen=True)
class WalkParams:
    """Tuning of the walk policy; the defaults work for formats up to about 5x5x5."""

    pool_size: int = 50
    plus_after: int = 5_000
    plus_delta: int = 3
    restart_flips: int = 10_000_000
    chunk_flips: int = 200_000


def check_tuning(params: dict[str, Any], flags: bool = False) -> None:
    """Raise ValueError naming the first walk-tuning value that is unknown or out of range.

    ``flags``: name them as the command-line options (``--plus-after``) instead of the fields.
    """
    for key, value in params.items():
        name = "--" + key.replace("_", "-") if flags else key
        if key not in _MINIMUM:
            raise ValueError(f"unknown walk parameter {key!r}")
        low = _MINIMUM[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value < TUNING_LIMIT:
            raise ValueError(f"{name} must be an integer from {low} to 2^62-1, not {value!r}")
