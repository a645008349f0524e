"""Throughput of the compiled walk: single-core flips per second, compile time kept apart."""

from __future__ import annotations

import math
import time
from typing import Any

from flipforge.schemes import FlipforgeError, Scheme

from .kernels.index import new_arena
from .kernels.walk import prepare_kernels, walk
from .packing import pack, search_domain
from .run import load_target
from .searchers.flip_pool import FlipPoolParams

__all__ = ["flips_per_second"]


def flips_per_second(target: str, domain: str, seconds: float, seed: int = 0) -> dict[str, Any]:
    """Walk from the naive scheme for ``seconds`` (restarting when a walk ends) and count flips.

    The first short walk loads or compiles the kernels; its time is reported as
    ``warmup_seconds`` and excluded from ``flips_per_second``. A time that is not a finite
    positive number, or a negative seed, is a FlipforgeError (bad input).
    """
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise FlipforgeError(f"the time must be a finite number of seconds above 0, not {seconds}")
    if seed < 0:
        raise FlipforgeError(f"the seed must be 0 or more, not {seed}")
    domain = search_domain(domain)
    tensor = load_target(target)
    start = pack(Scheme.naive(tensor), domain)
    p = FlipPoolParams()
    cap = start.rank + p.plus_delta + 2
    warmup = prepare_kernels()
    flips, walks, lowest = 0, 0, start.rank
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        arena = new_arena(start.fp, start.fn, start.code, cap, seed + walks)
        done = 0
        while done < p.restart_flips and time.perf_counter() - t0 < seconds:
            step = walk(arena, 1_000_000, 0, p.plus_after, p.plus_delta, start.rank, False)
            if step == 0:
                break
            done += step
            lowest = min(lowest, int(arena[0]))
        flips += done
        walks += 1
    elapsed = time.perf_counter() - t0
    return {
        "target": target,
        "domain": domain,
        "flips": flips,
        "seconds": round(elapsed, 3),
        "flips_per_second": round(flips / elapsed),
        "warmup_seconds": round(warmup, 3),
        "walks": walks,
        "lowest_rank": lowest,
    }
