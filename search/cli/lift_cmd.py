"""``flipforge lift``: from a scheme over F2/F3 to one over ZT, Z or Q."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flipforge.schemes import Domain, native_text
from flipforge.verify import infer_domain, verify
from flipforge.verify.lift import lift

from ._common import EXIT_FAIL, EXIT_OK, fail, friendly_errors, one_source

__all__ = ["lift_command"]


@click.command("lift")
@click.argument("path", metavar="PATH")
@click.option(
    "--to",
    "to",
    type=click.Choice(["ZT", "Z", "Q"], case_sensitive=False),
    default="Q",
    show_default=True,
    help="The ring to lift to (the most specific that holds is reported).",
)
@click.option("--steps", type=int, default=None, help="Hensel steps (default: as many as int64 allows).")
@click.option("--attempts", type=int, default=8, show_default=True, help="Orders of the unknowns to try.")
@click.option("--domain", "-d", default=None, help="Read the scheme over this field (default: claimed or inferred).")
@click.option("--from", "fmt", default=None, metavar="FMT", help="Read the file as this format.")
@click.option("--out", "-o", default=None, metavar="FILE", help="Write the lifted scheme (native JSON) here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary (lifted, domain, rank, steps, ...).")
@friendly_errors
def lift_command(
    path: str,
    to: str,
    steps: int | None,
    attempts: int,
    domain: str | None,
    fmt: str | None,
    out: str | None,
    as_json: bool,
) -> None:
    """Hensel-lift a scheme valid over F2 or F3 (any F_p) to ZT, Z or Q, and verify it exactly.

    Each step solves the linearised Brent equations mod p (the support of the scheme is kept);
    rational reconstruction then turns the p-adic coefficients into small fractions.

    \b
    Exit status: 0 lifted and verified, 1 the scheme does not lift (the reason is printed,
    e.g. "the linear system at step 1 has no solution"), 2 bad input.

    \b
    Examples:
      flipforge lift runs/<run>/best-23.json --to Z --out laderman-z.json
      flipforge lift 444-47-mod2.exp           # exit 1: not liftable
    """
    src = one_source(path, fmt)
    scheme = src.scheme
    dom = Domain.parse(domain) if domain else (scheme.domain or infer_domain(scheme))
    if dom.p is None:
        if verify(scheme, dom).valid:
            fail(f"{src.label} is already valid over {dom}; lifting starts from F2, F3 or another F_p")
        fail(f"{src.label} does not hold over any field it could be read in; give --domain F2 or F3")
    if steps is not None and steps < 1:
        fail(f"--steps must be at least 1, not {steps}")
    result = lift(scheme.with_domain(dom), to.upper(), steps, attempts=max(1, attempts))
    if result.lifted and out:
        try:
            Path(out).write_text(native_text(result.scheme))  # type: ignore[arg-type]
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or exc})")
    summary = {**result.as_dict(), "from": str(dom), "out": out if result.lifted else None}
    if as_json:
        click.echo(json.dumps(summary))
    elif result.lifted:
        where = f" -> {out}" if out else ""
        click.echo(
            f"{src.label}: lifted from {dom} to {result.domain} in {result.steps} steps ({result.seconds:.3f} s){where}"
        )
        if not out:
            click.echo(native_text(result.scheme), nl=False)  # type: ignore[arg-type]
    else:
        click.echo(f"{src.label}: does not lift from {dom} to {to.upper()}: {result.reason}")
    sys.exit(EXIT_OK if result.lifted else EXIT_FAIL)
