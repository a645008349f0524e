"""``flipforge lift``: from a scheme over a prime field F_p (F2, F3, F5, ...) to one over ZT, Z or Q."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flipforge.schemes import Domain, FlipforgeError, Scheme, native_text
from flipforge.verify import is_claimed, verify, verify_where_valid
from flipforge.verify.lift import MAX_ATTEMPTS, lift, max_steps

from ._common import EXIT_FAIL, EXIT_OK, OneLineCommand, fail, friendly_errors, from_option, one_source, out_option
from .progress import WorkProgress

__all__ = ["lift_command"]

_TARGETS = ("ZT", "Z", "Q", "QI")


def _field(domain: str) -> Domain:
    """The prime field named by --domain, or exit 2 saying why not."""
    try:
        dom = Domain.parse(domain)
    except FlipforgeError as exc:
        fail(f"--domain: {exc}")
    if dom.p is None:
        fail(f"--domain must be a prime field (F2, F3, F<p>) to lift from, not {dom}")
    if max_steps(dom.p) < 1:
        fail(f"--domain {dom} is too large to lift from (one Hensel step mod p must stay inside int64)")
    return dom


def _check_options(to: str, steps: int | None, attempts: int, domain: str | None) -> Domain | None:
    """Every option in its range before any file is read; bad input exits 2 with one line."""
    if to.upper() not in _TARGETS:
        fail(f"--to must be one of {', '.join(_TARGETS)}, not {to!r}")
    if not 1 <= attempts <= MAX_ATTEMPTS:
        fail(f"--attempts must be from 1 to {MAX_ATTEMPTS}, not {attempts}")
    if steps is not None and steps < 1:
        fail(f"--steps must be at least 1, not {steps}")
    return _field(domain) if domain is not None else None


@click.command("lift", cls=OneLineCommand)
@click.argument("path", metavar="PATH")
@click.option(
    "--to",
    "to",
    metavar="ZT|Z|Q|QI",
    default="Q",
    show_default=True,
    help="The ring to lift to; the most specific ring in which the lift holds is reported. QI (Q(i)) is for "
    "schemes over F9 = F3[i], lifted in Z_3[i].",
)
@click.option(
    "--steps",
    type=int,
    default=None,
    show_default="as many as int64 allows: 26 for F2, 16 for F3",
    help="The number of Hensel steps, at least 1.",
)
@click.option(
    "--attempts",
    type=int,
    default=8,
    show_default=True,
    help=f"How many orders of the unknowns to try, from 1 to {MAX_ATTEMPTS}.",
)
@click.option(
    "--domain",
    "-d",
    default=None,
    show_default="the field the file claims, else the one among F2 and F3 in which the scheme holds",
    help="Read the scheme over this prime field (F2, F3 or F<p>).",
)
@from_option()
@out_option("print the scheme", "Write the lifted scheme to this file as native JSON.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    show_default="off",
    help="Print one JSON summary (lifted, domain, rank, steps, seconds, reason).",
)
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
    """Hensel-lift a scheme valid over a prime field F_p (F2, F3, F5, F7 or any p) to ZT, Z or Q; verify it exactly.

    Each step solves the linearised Brent equations mod p (the support of the scheme is kept
    first); rational reconstruction then turns the p-adic coefficients into small fractions.
    Without --domain the scheme is read over the field its file claims; a file that claims no
    field is read over F2 or F3, whichever the scheme holds in.

    \b
    Exit status: 0 lifted and verified, 1 the scheme does not lift (the reason is printed,
    e.g. "the linear system at step 1 has no solution"), 2 bad input (an option outside its
    range, a scheme that holds over no field, or one that is already valid over a ring).

    \b
    Examples:
      flipforge lift runs/<run>/best-23.json --to Z --out laderman-z.json
      flipforge lift 444-47-mod2.exp           # exit 1: not liftable
      flipforge lift scheme-mod7.json --domain F7 --to Q   # F5/F7 lifts give denominators 2, 3, 6
    """
    chosen = _check_options(to, steps, attempts, domain)
    src = one_source(path, fmt)
    scheme = src.scheme
    if (scheme.domain is not None and scheme.domain.name == "F9") or to.upper() == "QI":
        _lift_gaussian(src.label, scheme, to.upper(), steps, out, as_json)
    if chosen is not None:
        dom = chosen
    elif scheme.domain is not None and scheme.domain.p is not None:
        dom = scheme.domain
    else:  # a file that claims no field: the field it holds in (a claimed ring is never overridden)
        res = verify_where_valid(scheme)
        if res.valid and res.domain.p is None:
            fail(f"{src.label} is already valid over {res.domain}; lifting starts from F2, F3 or another F_p")
        if not res.valid:
            hint = f"give --domain {res.holds_over[0]} to lift it from there" if res.holds_over else "nothing to lift"
            where = "the domain its file claims" if is_claimed(scheme) else "the ring of its coefficients"
            fail(f"{src.label} does not hold over {res.domain}, {where} ({res.summary()}); {hint}")
        dom = res.domain
    if steps is not None and steps > max_steps(dom.p):  # type: ignore[arg-type]
        fail(f"--steps {steps} is too many for {dom} (at most {max_steps(dom.p)})")  # type: ignore[arg-type]
    check = verify(scheme, dom)
    if not check.valid:
        fail(f"{src.label} is not valid over {dom} ({check.summary()}); nothing to lift")
    k = steps or max_steps(dom.p)  # type: ignore[arg-type]
    with WorkProgress(f"lifting from {dom} (attempts x steps)", total=attempts * k) as prog:
        result = lift(scheme.with_domain(dom), to.upper(), steps, attempts=attempts, progress=lambda _: prog.advance())
    _finish(
        src.label,
        result.scheme if result.lifted else None,
        str(dom),
        to.upper(),
        result.as_dict(),
        result.seconds,
        out,
        as_json,
    )


def _lift_gaussian(label: str, scheme: Scheme, to: str, steps: int | None, out: str | None, as_json: bool) -> None:
    """F9 = F3[i] to Q(i) (``verify.lift_gauss``); exits like the prime-field lift."""
    from flipforge.verify.lift_gauss import MAX_STEPS, lift_f9

    if scheme.domain is None or scheme.domain.name != "F9" or to != "QI":
        fail(f"{label}: a lift to QI starts from a scheme over F9 (and an F9 scheme lifts to QI only: --to QI)")
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        fail(f"--steps must be from 1 to {MAX_STEPS} for a lift from F9, not {steps}")
    result = lift_f9(scheme, steps or 10)
    ring = str(result.scheme.domain) if result.scheme is not None else None
    summary = {"lifted": result.lifted, "domain": ring, "rank": scheme.rank, "steps": result.steps,
               "seconds": round(result.seconds, 3), "reason": result.reason}  # fmt: skip
    _finish(label, result.scheme if result.lifted else None, "F9", to, summary, result.seconds, out, as_json)


def _finish(
    label: str,
    lifted: Scheme | None,
    source: str,
    to: str,
    summary: dict,
    seconds: float,
    out: str | None,
    as_json: bool,
) -> None:
    """Write and report a lift (either kind): the file, then one JSON line or a sentence (and the
    scheme when there is no --out); exit 0 when it lifted, 1 when not."""
    if lifted is not None and out:
        try:
            Path(out).write_text(native_text(lifted))
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or exc})")
    if as_json:
        click.echo(json.dumps({**summary, "from": source, "out": out if lifted is not None else None}))
    elif lifted is not None:
        where = f" -> {out}" if out else ""
        click.echo(
            f"{label}: lifted from {source} to {summary['domain']} in {summary['steps']} steps ({seconds:.3f} s){where}"
        )
        if not out:
            click.echo(native_text(lifted), nl=False)
    else:
        click.echo(f"{label}: does not lift from {source} to {to}: {summary['reason']}")
    sys.exit(EXIT_OK if lifted is not None else EXIT_FAIL)
