"""``flipforge bench``: measure the search kernels on this machine."""

from __future__ import annotations

import json
import math

import click

from ._common import OneLineCommand, OneLineGroup, fail, friendly_errors
from .progress import format_count

__all__ = ["bench_group", "MAX_SECONDS", "MAX_SEED"]

MAX_SECONDS = 24 * 3600.0
MAX_SEED = 2**63 - 1


@click.group("bench", cls=OneLineGroup)
def bench_group() -> None:
    """Measure flipforge's kernels on this machine (single core)."""


@bench_group.command("flips", cls=OneLineCommand)
@click.argument("target", metavar="FORMAT")
@click.option("--domain", "-d", default="F2", show_default=True, help="F2, F3 or ZT.")
@click.option("--seconds", "-s", type=float, default=5.0, show_default=True, help="How long to walk.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the walks (0 to 2^63-1).")
@click.option(
    "--json", "as_json", is_flag=True, show_default="off", help="Print one JSON object (flips_per_second, ...)."
)
@friendly_errors
def bench_flips(target: str, domain: str, seconds: float, seed: int, as_json: bool) -> None:
    """Single-core flips per second of a walk from the naive scheme of FORMAT.

    The kernel load (or first compile) is timed separately and not counted.

    \b
    Example:
      flipforge bench flips 3x3x3 --domain F2 --seconds 5
    """
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        fail(f"--seconds must be a number of seconds above 0 and at most {MAX_SECONDS:g}, not {seconds:g}")
    if not 0 <= seed <= MAX_SEED:
        fail(f"--seed must be an integer from 0 to {MAX_SEED}, not {seed}")
    from flipforge.search.bench import flips_per_second

    r = flips_per_second(target, domain, seconds, seed)
    if as_json:
        click.echo(json.dumps(r))
        return
    click.echo(
        f"{r['target']} over {r['domain']}: {format_count(r['flips_per_second'])} flips/s "
        f"({format_count(r['flips'])} flips in {r['seconds']:.1f} s, {r['walks']} walk(s), lowest rank "
        f"{r['lowest_rank']}); kernel load/compile {r['warmup_seconds']:.2f} s"
    )
