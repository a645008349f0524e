"""``flipforge info``: metrics of schemes (rank, nonzeros, additions, omega, where they hold)."""

from __future__ import annotations

import sys

import click
from flipforge.schemes import coefficient_class, metrics
from flipforge.schemes.targets import recursion
from flipforge.verify import valid_over, verify

from ._common import EXIT_BAD_INPUT, EXIT_OK, OneLineCommand, emit_json, friendly_errors, from_option, iter_sources


@click.command("info", cls=OneLineCommand)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@from_option(many=True)
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array, one object per scheme.")
@friendly_errors
def info_command(paths: tuple[str, ...], fmt: str | None, as_json: bool) -> None:
    """Show rank, nonzeros, naive additions, omega, coefficient class and validity of schemes.

    \b
    naive additions = sum over terms of (nnz(u)-1) + (nnz(v)-1), plus sum over the
    entries of C of (number of terms using it - 1); omega = 3 log(rank) / log(n m p).
    Structured products (ug-444, gt-444, ...) also show the paper's recursive calls a-b-c (terms
    that are smaller instances of a structured product) and, for xg ops and gt,
    gamma = (rank - c) / (n^log2(7) - c) with c the first count.
    """
    out, code = [], EXIT_OK
    for src in iter_sources(paths, fmt):
        if src.scheme is None:
            click.echo(f"flipforge: cannot read {src.error}", err=True)
            code = EXIT_BAD_INPUT
            continue
        s = src.scheme
        m = metrics(s)
        res = verify(s)
        row = {
            "path": src.path,
            "index": src.index,
            "target": s.tensor.label(),
            "format": list(s.fmt) if s.fmt else list(s.tensor.shape),
            "rank": m.rank,
            "domain": str(res.domain),
            "valid": res.valid,
            "coefficients": coefficient_class(s),
            "nnz": {"u": m.nnz[0], "v": m.nnz[1], "w": m.nnz[2]},
            "additions_naive": m.additions_naive,
            "omega": m.omega,
            "valid_over": valid_over(s),
        }
        rec = recursion(s)
        if rec is not None:
            row.update(rec)
        out.append(row)
        if not as_json:
            fmt_s = s.tensor.label()
            omega = f"{m.omega:.4f}" if m.omega is not None else "-"
            extra = ""
            if rec is not None:
                extra = f"  recursive calls {'-'.join(map(str, rec['recursive_calls']))}"
                extra += f"  gamma {rec['gamma']:.4f}" if rec["gamma"] is not None else ""
            click.echo(
                f"{src.label}\n  target {fmt_s}  rank {m.rank}  omega {omega}{extra}\n"
                f"  domain {res.domain} ({res.summary()})  coefficients {row['coefficients']}"
                f"  valid over {', '.join(row['valid_over']) or 'none of F2, F3, Z, Q'}\n"
                f"  nonzeros u {m.nnz[0]}  v {m.nnz[1]}  w {m.nnz[2]}  naive additions {m.additions_naive}"
            )
    if as_json:
        emit_json(out)
    sys.exit(code)
