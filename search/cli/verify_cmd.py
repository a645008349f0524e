"""``flipforge verify``: prove schemes valid (or not) in exact arithmetic."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flipforge.schemes import Domain, FlipforgeError, coefficient_class
from flipforge.schemes.approximate import is_approximate_file, read_approximation
from flipforge.verify import valid_over, verify

from ._common import (
    EXIT_BAD_INPUT,
    EXIT_FAIL,
    EXIT_OK,
    OneLineCommand,
    emit_json,
    friendly_errors,
    from_option,
    iter_sources,
    note_exit,
)
from .progress import WorkProgress

__all__ = ["OneLineCommand", "verify_command"]

DOMAIN_HELP = (
    "Where to check: auto, F2, F3, F<p> for a prime p, GF4, F9 (element indices), ZT, Z, Q or QI (Q(i)). "
    "With auto each scheme is checked in the domain its file claims, else in the ring of its coefficients."
)


def _format_of(scheme) -> str:
    return scheme.tensor.label()


def _approximate(path: str) -> dict:
    """The verdict on an approximate (domain R) file: its error, recomputed; never valid."""
    try:
        approx = read_approximation(path)
    except FlipforgeError as exc:
        return {"path": path, "rank": None, "valid": False, "reason": str(exc)}
    residual, largest = approx.errors()
    return {
        "path": path,
        "index": 0,
        "format": approx.tensor.label(),
        "rank": approx.rank,
        "domain": "R",
        "valid": False,
        "approximate": True,
        "residual": residual,
        "largest_error": largest,
        "reason": f"APPROXIMATE (residual {residual:.3g}, largest entry error {largest:.3g}): not an exact scheme",
    }


@click.command("verify", cls=OneLineCommand)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--domain", "-d", default="auto", show_default=True, help=DOMAIN_HELP)
@from_option(many=True)
@click.option(
    "--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array with one object per scheme."
)
@click.option("--quiet", "-q", is_flag=True, show_default="off", help="Print only invalid schemes and errors.")
@friendly_errors
def verify_command(paths: tuple[str, ...], domain: str, fmt: str | None, as_json: bool, quiet: bool) -> None:
    """Check every Brent equation of each scheme exactly, in the domain its file claims.

    PATH may be a scheme file in any supported format, a folder (walked recursively; files that
    are not schemes are skipped), or builtin:strassen, builtin:winograd or builtin:naive:NxMxP.

    With --domain auto (the default) a scheme is checked in the domain its file claims: the
    "domain" of a JSON file, or a token of the file name (mod2, f2 or z2 claim F2; mod3 or f3
    claim F3; mod0 claims Z, the Kauers-Moosbauer convention for integer schemes; zt, z and q
    claim ZT, Z and Q, as in Perminov's _ZT and flip-cpd's -z). A file that claims nothing (a
    format defined over the integers or rationals, such as Benson's or the FMM catalogue's) is
    checked in the ring of its coefficients: ZT when they are all -1, 0 or 1, Z for other
    integers, Q for fractions. A finite field is never assumed: a scheme that fails there but
    holds mod 2 or mod 3 is reported as "INVALID over Z (holds over F2 only)" (exit status 1),
    and --domain F2 checks it over F2. The JSON output also lists every domain among F2, F3, Z
    and Q in which the scheme holds (valid_over). An approximate file ("domain": "R", written by
    flipforge approximate) is reported with its recomputed error as APPROXIMATE, never as valid
    (exit status 1).

    \b
    Exit status: 0 every scheme is valid, 1 some scheme is invalid,
    2 some input could not be read (the others are still checked).

    \b
    Examples:
      flipforge verify 444-47-mod2.exp              # F2, as the file name claims
      flipforge verify 444-47-mod2.exp --domain Z   # INVALID over Z (holds over F2 only)
      flipforge verify ../shared/reference --quiet --json
    """
    dom = None if domain.strip().lower() == "auto" else Domain.parse(domain, extension=True)
    results, code, count, unreadable = [], EXIT_OK, 0, 0
    folders = any(not p.startswith("builtin:") and Path(p).is_dir() for p in paths)
    with WorkProgress("verifying", total=None, enabled=folders) as prog:
        for src in iter_sources(paths, fmt):
            prog.advance()
            if src.scheme is None and is_approximate_file(src.path):
                row = _approximate(src.path)
                count += 1 if row["rank"] is not None else 0
                code = max(code, EXIT_FAIL if row["rank"] is not None else EXIT_BAD_INPUT)
                note_exit(code)
                if as_json:
                    results.append(row)
                elif row["rank"] is None:
                    prog.echo(f"flipforge: cannot read {row['reason']}")
                else:
                    prog.out(f"{src.label}  {row['format']}  rank {row['rank']}  R  {row['reason']}")
                continue
            if src.scheme is None:
                prog.echo(f"flipforge: cannot read {src.error}")
                code, unreadable = EXIT_BAD_INPUT, unreadable + 1
                note_exit(code)
                continue
            count += 1
            s = src.scheme
            res = verify(s, dom, explain=True)
            if not res.valid and code == EXIT_OK:
                code = EXIT_FAIL
                note_exit(code)
            if as_json:
                results.append(
                    {
                        "path": src.path,
                        "index": src.index,
                        "format": list(s.fmt) if s.fmt else list(s.tensor.shape),
                        "rank": s.rank,
                        "domain": str(res.domain),
                        "valid": res.valid,
                        "failures": res.failures,
                        "first_failures": [str(f) for f in res.first],
                        "reason": res.reason,
                        "coefficients": coefficient_class(s),
                        "valid_over": valid_over(s),
                    }
                )
            elif not (quiet and res.valid):
                prog.out(f"{src.label}  {_format_of(s)}  rank {s.rank}  {res.domain}  {res.summary()}")
    if as_json:
        emit_json(results)
    elif not quiet or code != EXIT_OK:
        click.echo(f"{count} scheme(s) checked" + (f", {unreadable} unreadable" if unreadable else ""), err=True)
    sys.exit(code)
