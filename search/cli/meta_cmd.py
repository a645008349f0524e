"""``flipforge meta``: format-changing moves on scheme files (extend, project, merge, product,
serendipitous, permute)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from flipforge.schemes import FlipforgeError, Scheme, native_text
from flipforge.schemes.meta import AXES, extend, merge, product, project, serendipitous
from flipforge.schemes.meta import permute_to as permute_scheme
from flipforge.schemes.tensor import format_name, parse_format
from flipforge.verify import verify

from ._common import EXIT_OK, OneLineGroup, fail, friendly_errors, one_source, out_option

__all__ = ["meta_group"]

_AXIS = click.Choice(list(AXES), case_sensitive=False)
_AXIS_HELP = "The dimension that changes: n (rows of A and C), m (inner), p (columns of B and C)."
EXIT_INTERNAL = 3


def _valid_input(path: str) -> Scheme:
    """The one scheme in PATH, checked exactly where it claims to hold (else exit 2)."""
    src = one_source(path, None)
    scheme = src.scheme
    if scheme.fmt is None:
        fail(f"{src.label} is a {scheme.tensor.label()} scheme; meta moves act on matrix multiplication schemes")
    result = verify(scheme)
    if not result.valid:
        fail(f"{src.label} is not valid over {result.domain} ({result.summary()}); a meta move needs a valid scheme")
    return scheme if scheme.domain is not None else scheme.with_domain(result.domain)


def _finish(result: Scheme, out: str | None, as_json: bool) -> None:
    """Verify the moved scheme exactly, then write it (or print it) with a one-line summary."""
    check = verify(result, result.domain)
    if not check.valid:  # the moves keep validity by construction: this is a bug, never a result
        fail(f"internal error: {result.meta.get('move')} gave an invalid scheme ({check.summary()})", EXIT_INTERNAL)
    if out:
        try:
            Path(out).write_text(native_text(result))
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or exc})")
    label = format_name(result.fmt)  # type: ignore[arg-type]
    if as_json:
        row = {"move": result.meta.get("move"), "format": label, "rank": result.rank}
        click.echo(json.dumps({**row, "domain": str(check.domain), "valid": True, "out": out}))
    else:
        where = f" -> {out}" if out else ""
        click.echo(f"{label}  rank {result.rank}  {check.domain}  VALID  ({result.meta.get('move')}){where}")
        if not out:
            click.echo(native_text(result), nl=False)
    sys.exit(EXIT_OK)


def _run(move: Callable[[], Scheme], out: str | None, as_json: bool) -> None:
    try:
        result = move()
    except FlipforgeError as exc:
        fail(str(exc))
    _finish(result, out, as_json)


def _common(func: Callable) -> Callable:
    func = click.option("--json", "as_json", is_flag=True, show_default="off", help="Print one JSON summary.")(func)
    func = out_option("print the scheme", "Write the new scheme to this file as native JSON.")(func)
    return friendly_errors(func)


@click.group(
    "meta",
    cls=OneLineGroup,
    short_help="Change a scheme's format: extend, project, merge, product, serendipitous, permute.",
)
def meta_group() -> None:
    """Change a scheme's format with the moves of the meta flip graph.

    Every move maps a valid scheme to a valid one in the same ring, and flipforge verifies the
    result exactly before writing it. Use them to build a starting scheme for a search
    (`flipforge search 3x3x4 --start FILE`).

    \b
    Examples:
      flipforge meta extend builtin:strassen --axis p -o 2x2x3-11.json
      flipforge meta project best-23.json --axis n --index 2 -o 2x3x3.json
      flipforge meta merge 2x2x3-11.json builtin:naive:1x2x3 --axis n -o 3x2x3.json
      flipforge meta product builtin:strassen builtin:strassen -o 4x4x4-49.json
      flipforge meta permute 2x2x3-11.json --to 3x2x2 -o 3x2x2-11.json
    """


@meta_group.command("extend")
@click.argument("path", metavar="SCHEME")
@click.option("--axis", "-a", type=_AXIS, required=True, help=_AXIS_HELP)
@_common
def extend_command(path: str, axis: str, out: str | None, as_json: bool) -> None:
    """One more index along an axis, its slice covered by naive terms (<n,m,p> to <n+1,m,p> adds m·p terms)."""
    scheme = _valid_input(path)
    _run(lambda: extend(scheme, axis), out, as_json)


@meta_group.command("project")
@click.argument("path", metavar="SCHEME")
@click.option("--axis", "-a", type=_AXIS, required=True, help=_AXIS_HELP)
@click.option("--index", "-i", type=int, default=0, show_default=True, help="The index to delete (0-based).")
@_common
def project_command(path: str, axis: str, index: int, out: str | None, as_json: bool) -> None:
    """Delete one index of an axis (<n,m,p> to <n-1,m,p>); terms left with a zero factor go, and
    terms that then share two factors merge (only where the result stays in the scheme's ring)."""
    scheme = _valid_input(path)
    _run(lambda: project(scheme, axis, index), out, as_json)


@meta_group.command("merge")
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option("--axis", "-a", type=_AXIS, required=True, help=_AXIS_HELP)
@_common
def merge_command(first: str, second: str, axis: str, out: str | None, as_json: bool) -> None:
    """The direct sum of two schemes along an axis (<n1,m,p> and <n2,m,p> give <n1+n2,m,p>, rank a + b)."""
    a, b = _valid_input(first), _valid_input(second)
    _run(lambda: merge(a, b, axis), out, as_json)


@meta_group.command("product")
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@_common
def product_command(first: str, second: str, out: str | None, as_json: bool) -> None:
    """The Kronecker product of two schemes (<n1,m1,p1> and <n2,m2,p2> give <n1n2,m1m2,p1p2>, rank a·b)."""
    a, b = _valid_input(first), _valid_input(second)
    _run(lambda: product(a, b), out, as_json)


@meta_group.command("serendipitous")
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option(
    "--with",
    "wider",
    multiple=True,
    metavar="SCHEME",
    help="A scheme for a widened format of B (e.g. 3x3x6 for B = 3x3x3); any ordering of it. Repeatable.",
)
@_common
def serendipitous_command(first: str, second: str, wider: tuple[str, ...], out: str | None, as_json: bool) -> None:
    """The Kronecker product, with A's buds multiplied out together.

    A bud is g terms of A that share a factor up to scale (g terms sharing A's factor form a
    <1,1,g> block). Multiplied by B, a bud needs B's format widened g times (<n,m,g·p> for a bud
    on A, <g·n,m,p> on B, <n,g·m,p> on C); when a --with scheme for that format has rank below
    g·rank(B), the bud costs that rank instead of g·rank(B). With no buds or no better wider
    scheme the result is the plain product.

    \b
    Example (Kauers-Moosbauer 2x2x3:11, AlphaTensor 3x3x3:23, Smirnov 3x6x3:40):
      flipforge meta serendipitous 223-11.exp 333-23.json --with smirnov363-40 -o 669.json
      6x6x9  rank 235  Q  VALID  (serendipitous product of 2x2x3:11 and 3x3x3:23) -> 669.json
    """
    a, b = _valid_input(first), _valid_input(second)
    wides = [_valid_input(path) for path in wider]

    def lookup(fmt: tuple[int, int, int]) -> Scheme | None:
        fits = [w for w in wides if sorted(w.fmt) == sorted(fmt)]  # type: ignore[arg-type]
        return permute_scheme(min(fits, key=lambda w: w.rank), fmt) if fits else None

    _run(lambda: serendipitous(a, b, lookup), out, as_json)


@meta_group.command("permute")
@click.argument("path", metavar="SCHEME")
@click.option("--to", "to", required=True, metavar="FORMAT", help="A reordering of the scheme's format, e.g. 3x2x2.")
@_common
def permute_command(path: str, to: str, out: str | None, as_json: bool) -> None:
    """Move a scheme to another ordering of its format by the cyclic and transpose symmetries."""
    scheme = _valid_input(path)
    try:
        fmt = parse_format(to)
    except FlipforgeError as exc:
        fail(f"--to {to}: {exc}")
    _run(lambda: permute_scheme(scheme, fmt), out, as_json)
