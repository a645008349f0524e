"""``flipforge reduce`` and ``flipforge export``: fewer additions, and schemes as code."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flipforge.schemes import Scheme
from flipforge.schemes.additions import METHODS, ReducedScheme, check_program, reduce_additions
from flipforge.schemes.export import LANGUAGES, export_code, program_text
from flipforge.verify import verify

from ._common import EXIT_FAIL, fail, friendly_errors, one_source

__all__ = ["reduce_command", "export_command"]


def _one_verified(path: str, fmt: str | None) -> tuple[Scheme, str, str]:
    """The single scheme in PATH, verified; returns (scheme, domain name, label)."""
    src = one_source(path, fmt)
    res = verify(src.scheme)
    if not res.valid:
        fail(f"{src.label} is not a valid scheme ({res.summary()}); refusing to use it", EXIT_FAIL)
    return src.scheme, str(res.domain), src.label


def _reduce(scheme: Scheme, method: str, seed: int, restarts: int, seconds: float | None) -> ReducedScheme:
    r = reduce_additions(scheme, method, seed=seed, restarts=restarts, seconds=seconds)
    check_program(r)
    return r


@click.command("reduce")
@click.argument("path", metavar="PATH")
@click.option(
    "--method",
    "-m",
    type=click.Choice(METHODS),
    default="greedy",
    show_default=True,
    help="greedy: most frequent pair first; random: greedy restarts with random tie-breaks, best kept.",
)
@click.option("--restarts", type=int, default=50, show_default=True, help="Restarts of the random method.")
@click.option("--time", "seconds", type=float, default=None, help="Stop the random restarts after this many seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random method.")
@click.option("--from", "fmt", default=None, metavar="FMT", help="Read the file as this format.")
@click.option(
    "--walk",
    "walk_flips",
    type=int,
    default=0,
    show_default=True,
    help="First walk this many ZT flips at the same rank and keep the sparsest scheme (ternary input).",
)
@click.option("--out", "-o", default=None, metavar="FILE", help="Write the straight-line program here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@friendly_errors
def reduce_command(
    path: str,
    method: str,
    restarts: int,
    seconds: float | None,
    seed: int,
    fmt: str | None,
    walk_flips: int,
    out: str | None,
    as_json: bool,
) -> None:
    """Naive and reduced additions of a scheme (common-subexpression elimination).

    Naive additions count (nnz - 1) for every linear form of A, of B and every output; CSE
    computes repeated pairs x_i + r*x_j once. The program it finds (fresh variables s*, t*, u*,
    then the products and outputs) is checked to compute exactly the scheme.

    \b
    Examples:
      flipforge reduce builtin:winograd            # 24 naive -> 15
      flipforge reduce best-23.json --walk 200000  # sparser scheme first (ZT flips), then CSE
      flipforge reduce laderman.exp --method random --restarts 200 --out laderman.txt
    """
    scheme, domain, label = _one_verified(path, fmt)
    if restarts < 1:
        fail(f"--restarts must be at least 1, not {restarts}")
    before = None
    if walk_flips:
        from flipforge.schemes.metrics import naive_additions
        from flipforge.search.sparse import sparsest

        before = naive_additions(scheme)
        scheme = sparsest(scheme, walk_flips, seed)
    r = _reduce(scheme, method, seed, restarts, seconds)
    if out:
        try:
            Path(out).write_text(program_text(r, domain))
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or exc})")
    summary = {
        "path": label,
        "format": scheme.tensor.label(),
        "rank": scheme.rank,
        "domain": domain,
        "method": method,
        "naive": r.naive,
        "naive_before_walk": before,
        "reduced": r.additions,
        "reduced_u": r.u.additions,
        "reduced_v": r.v.additions,
        "reduced_w": r.w.additions,
        "out": out,
    }
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(
        f"{label}  {scheme.tensor.label()}  rank {scheme.rank}  {domain}: {r.naive} naive additions -> {r.additions} "
        f"({method}: A {r.u.additions}, B {r.v.additions}, C {r.w.additions})"
        + (f"; program written to {out}" if out else "")
    )


@click.command("export")
@click.argument("path", metavar="PATH")
@click.option("--lang", "-l", type=click.Choice(LANGUAGES), required=True, help="Target language.")
@click.option("--reduce", "use_reduce", is_flag=True, help="Use the CSE program (fewer additions).")
@click.option(
    "--method", "-m", type=click.Choice(METHODS), default="greedy", show_default=True, help="CSE method with --reduce."
)
@click.option("--name", default="matmul", show_default=True, help="Name of the generated function.")
@click.option("--from", "fmt", default=None, metavar="FMT", help="Read the file as this format.")
@click.option("--out", "-o", default=None, metavar="FILE", help="Write here instead of standard output.")
@friendly_errors
def export_command(
    path: str, lang: str, use_reduce: bool, method: str, name: str, fmt: str | None, out: str | None
) -> None:
    """Write a verified scheme as code: python, numpy, c, latex or markdown.

    \b
    python:   NAME(A, B) -> C on nested lists, any ring (ints, Fractions, floats)
    numpy:    NAME(A, B, recursive=False, cutoff=64) -> C on block matrices; recursive=True
              applies the scheme again to the block products while they are larger than cutoff
    c:        void NAME(const double *A, int lda, const double *B, int ldb, double *C, int ldc)
              (C99, row-major, C = A*B for an n x m A and m x p B, C overwritten)
    latex:    the products m_t and the outputs c_ik as formulas (markdown: the same in $$ $$)

    Only schemes valid over Z or Q are exported (an F2-only scheme computes the wrong thing
    over the reals).

    \b
    Examples:
      flipforge export builtin:winograd --lang c --reduce --name winograd -o winograd.c
      flipforge export best-23.json --lang numpy --out laderman.py
    """
    scheme, domain, _ = _one_verified(path, fmt)
    reduced = _reduce(scheme, method, 0, 50, None) if use_reduce else None
    text = export_code(scheme, lang, domain=domain, name=name, reduced=reduced)
    if out:
        try:
            Path(out).write_text(text)
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or exc})")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)
