"""``flipforge select``: the Pareto front of schemes of one target (rank, recursive calls,
additions, largest denominator), as the flip-cpd paper selects its schemes."""

from __future__ import annotations

import sys
from typing import Any

import click
from flipforge.schemes import metrics, parse_target
from flipforge.schemes.pareto import largest_denominator, pareto_front
from flipforge.schemes.targets import recursion
from flipforge.verify import verify

from ._common import EXIT_BAD_INPUT, EXIT_OK, OneLineCommand, emit_json, friendly_errors, from_option, iter_sources


@click.command(
    "select",
    cls=OneLineCommand,
    short_help="Keep the Pareto front of schemes per target (rank, recursive calls, additions).",
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@from_option(many=True, target=False)
@click.option(
    "--target",
    "only",
    default=None,
    metavar="TARGET",
    show_default="every target, one front each",
    help="Only schemes of this target (ug-444, 3x3x3, ...).",
)
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array of the front.")
@friendly_errors
def select_command(paths: tuple[str, ...], fmt: str | None, only: str | None, as_json: bool) -> None:
    """Show the Pareto front of the valid schemes in PATH... (files or folders), per target.

    A scheme is on the front when no other valid scheme of its target has a rank as low, as many
    recursive calls (the sum of the paper's a-b-c; 0 for matmul), as few naive additions and as
    small a largest denominator, and is strictly better in one. Each scheme is verified exactly
    in the domain its file claims first; invalid ones are counted and left out.

    \b
    Example: flipforge select ../shared/reference/khoruzhii_structured --target ug-444
    """
    wanted = parse_target(only).label() if only is not None else None
    rows: list[dict[str, Any]] = []
    bad = 0
    for src in iter_sources(paths, fmt):
        if src.scheme is not None and wanted is not None and src.scheme.tensor.label() != wanted:
            continue
        if src.scheme is None:
            click.echo(f"flipforge: cannot read {src.error}", err=True)
            bad += 1
            continue
        s = src.scheme
        res = verify(s, s.domain)
        if not res.valid:
            click.echo(f"flipforge: left out {src.label}: {res.summary()}", err=True)
            continue
        rec = recursion(s)
        calls = rec["recursive_calls"] if rec else [0, 0, 0]
        rows.append(
            {
                "path": src.label,
                "target": s.tensor.label(),
                "rank": s.rank,
                "recursive_calls": calls,
                "gamma": rec["gamma"] if rec else None,
                "additions_naive": metrics(s).additions_naive,
                "largest_denominator": largest_denominator(s),
                "domain": str(res.domain),
            }
        )
    front: list[dict[str, Any]] = []
    for target in dict.fromkeys(r["target"] for r in rows):
        mine = [r for r in rows if r["target"] == target]
        front += sorted(
            pareto_front(
                mine,
                lambda r: (r["rank"], -sum(r["recursive_calls"]), r["additions_naive"], r["largest_denominator"]),
            ),
            key=lambda r: (r["rank"], -sum(r["recursive_calls"]), r["additions_naive"]),
        )
    if as_json:
        emit_json(front)
    else:
        for r in front:
            gamma = f"  gamma {r['gamma']:.4f}" if r["gamma"] is not None else ""
            click.echo(
                f"{r['target']}  rank {r['rank']}  recursive calls {'-'.join(map(str, r['recursive_calls']))}{gamma}"
                f"  additions {r['additions_naive']}  denominator {r['largest_denominator']}"
                f"  {r['domain']}  {r['path']}"
            )
        click.echo(f"{len(front)} on the front of {len(rows)} valid scheme(s)", err=True)
    sys.exit(EXIT_BAD_INPUT if bad else EXIT_OK)
