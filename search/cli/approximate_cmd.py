"""``flipforge approximate``: the best real-valued decomposition found in a time budget."""

from __future__ import annotations

import time

import click
import numpy as np
from flipforge.schemes import SchemeError
from flipforge.schemes.approximate import Approximation, write_approximation

from ._common import OneLineCommand, friendly_errors


@click.command("approximate", cls=OneLineCommand)
@click.argument("target")
@click.option("--rank", "-r", type=click.IntRange(1, 10_000), required=True, help="Rank of the decomposition.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="The JSON file to write.")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Random seed.")
@click.option(
    "--time", "-t", "seconds", type=click.FloatRange(0, None, min_open=True), default=30, show_default=True,
    help="Seconds to spend on random starts.",
)  # fmt: skip
@click.option(
    "--iterations", type=click.IntRange(1, 10**7), default=500, show_default=True,
    help="Levenberg-Marquardt iterations per start.",
)  # fmt: skip
@friendly_errors
def approximate_command(target: str, rank: int, out: str, seed: int, seconds: float, iterations: int) -> None:
    """Fit TARGET with RANK real rank-one terms (Levenberg-Marquardt from random starts) and write
    the fit with the smallest error as an approximate scheme ("domain": "R").

    This is for ranks where no exact scheme is known or found: the file records float factors
    and their residual, and flipforge verify reports it as APPROXIMATE with the recomputed
    error, never as valid. To search for exact schemes use flipforge search --searcher numeric.

    \b
    Example:
      flipforge approximate 2x2x2 -r 6 -t 20 -o approx-222-r6.json
      flipforge verify approx-222-r6.json       # APPROXIMATE (residual ...), exit status 1
    """
    from ..numeric import fit
    from ..run import load_target

    tensor = load_target(target)
    if int(np.prod(tensor.shape)) > 20_000:
        raise SchemeError(f"{tensor.label()}: too many entries for the dense fit (at most 20000)")
    best, starts = None, 0
    t0 = time.perf_counter()
    while best is None or time.perf_counter() - t0 < seconds:  # at least one start
        rng = np.random.default_rng([seed, starts])
        factors, residual = fit(np.asarray(tensor.array), rank, rng, iterations, deadline=t0 + seconds)
        starts += 1
        if best is None or residual < best[1]:
            best = (factors, residual)
    approx = Approximation(tensor, *best[0])
    meta = {"found_by": "flipforge approximate", "seed": seed, "starts": starts, "seconds": round(seconds, 3)}
    write_approximation(approx, out, meta)
    residual, largest = approx.errors()
    click.echo(
        f"{tensor.label()} rank {rank}: residual {residual:.3g}, largest entry error {largest:.3g} "
        f"(best of {starts} start(s)) -> {out}"
    )
