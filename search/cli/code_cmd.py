"""``flipforge reduce`` and ``flipforge export``: fewer additions, and schemes as code."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
from flipforge.schemes import Domain, FlipforgeError, Scheme, coefficient_class
from flipforge.schemes.additions import METHODS, ReducedScheme, check_program, reduce_additions
from flipforge.schemes.export import LANGUAGES, check_function_name, export_code, program_text
from flipforge.verify import valid_over, verify

from ._common import EXIT_FAIL, OneLineCommand, fail, friendly_errors, from_option, one_source, out_option

__all__ = ["reduce_command", "export_command", "MAX_RESTARTS", "MAX_SEED", "MAX_WALK"]

MAX_RESTARTS = 1_000_000
MAX_SEED = 2**63 - 1
MAX_WALK = 10**12


def _check_reduce_options(restarts: int, seconds: float | None, seed: int, walk_flips: int) -> None:
    """Every option of ``reduce`` in its range before any file is read (one line, exit 2)."""
    if not 1 <= restarts <= MAX_RESTARTS:
        fail(f"--restarts must be from 1 to {MAX_RESTARTS:,}, not {restarts}")
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        fail(f"--time must be a finite number of seconds, at least 0, not {seconds}")
    if not 0 <= seed <= MAX_SEED:
        fail(f"--seed must be from 0 to 2^63-1, not {seed}")
    if not 0 <= walk_flips <= MAX_WALK:
        fail(f"--walk must be from 0 to {MAX_WALK:,} flips, not {walk_flips}")


def _one_verified(path: str, fmt: str | None) -> tuple[Scheme, str, str]:
    """The single scheme in PATH, verified; returns (scheme, domain name, label)."""
    src = one_source(path, fmt)
    res = verify(src.scheme)
    if not res.valid:
        fail(f"{src.label} is not a valid scheme ({res.summary()}); refusing to use it", EXIT_FAIL)
    return src.scheme, str(res.domain), src.label


def _reduce(
    scheme: Scheme, method: str, seed: int, restarts: int, seconds: float | None, width: int = 4
) -> ReducedScheme:
    r = reduce_additions(scheme, method, seed=seed, restarts=restarts, seconds=seconds, width=width)
    check_program(r)
    return r


@click.command("reduce", cls=OneLineCommand)
@click.argument("path", metavar="PATH")
@click.option(
    "--method",
    "-m",
    type=click.Choice(METHODS),
    default="greedy",
    show_default=True,
    help="The CSE method: greedy takes the most frequent pair first; random restarts greedy with random "
    "tie-breaks; lookahead tries the --width most frequent pairs at each step and finishes each greedily; "
    "anneal anneals over elimination orders (--restarts runs); exact searches every order (branch and "
    "bound, small schemes) and says whether it proved its count optimal; bp (ternary schemes) is a signed "
    "Boyar-Peralta search that may cancel terms, which pair CSE cannot, kept where it is shorter.",
)
@click.option(
    "--restarts",
    type=int,
    default=50,
    show_default=True,
    help=f"How many runs the random and anneal methods make, from 1 to {MAX_RESTARTS:,}.",
)
@click.option(
    "--width",
    type=int,
    default=4,
    show_default=True,
    help="Pairs the lookahead method tries at each step, from 1 to 1,000.",
)
@click.option(
    "--time",
    "seconds",
    type=float,
    default=None,
    show_default="no limit",
    help="Stop the random/anneal runs and the exact search after this many seconds (finite, at least 0).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The seed of the random method and of --walk.")
@from_option()
@click.option(
    "--walk",
    "walk_flips",
    type=int,
    default=0,
    show_default=True,
    help="First walk this many ZT flips at the same rank and keep the sparsest scheme (ternary input only).",
)
@out_option("not written", "Write the straight-line program to this file.")
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print one JSON object with the counts.")
@friendly_errors
def reduce_command(
    path: str,
    method: str,
    restarts: int,
    width: int,
    seconds: float | None,
    seed: int,
    fmt: str | None,
    walk_flips: int,
    out: str | None,
    as_json: bool,
) -> None:
    """Count the naive additions of a scheme and reduce them by common-subexpression elimination.

    Naive additions count (nnz - 1) for every linear form of A, of B and every output; CSE
    computes repeated pairs x_i + r*x_j once. The program it finds (fresh variables s*, t*, u*,
    then the products and outputs) is checked to compute exactly the scheme, and it stays in the
    scheme's ring: for integer coefficients every r is an integer, so integer input gives integers.

    \b
    Examples:
      flipforge reduce builtin:winograd            # 24 naive -> 15
      flipforge reduce builtin:winograd -m exact   # 15, proved optimal among pair eliminations
      flipforge reduce schemes/collection/3x3x3-r23-ZT-57.json -m bp   # 57 (signed Boyar-Peralta)
      flipforge reduce best-23.json --walk 200000  # sparser scheme first (ZT flips), then CSE
      flipforge reduce laderman.exp --method random --restarts 200 --out laderman.txt
    """
    _check_reduce_options(restarts, seconds, seed, walk_flips)
    if not 1 <= width <= 1000:
        fail(f"--width must be from 1 to 1,000, not {width}")
    scheme, domain, label = _one_verified(path, fmt)
    before = None
    if walk_flips:
        from flipforge.schemes.metrics import naive_additions
        from flipforge.search.sparse import sparsest

        before = naive_additions(scheme)
        scheme = sparsest(scheme, walk_flips, seed)
    r = _reduce(scheme, method, seed, restarts, seconds, width)
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
    from flipforge.schemes.additions import dag_shape

    summary["depth"], summary["width"] = dag_shape(r)
    summary["temporaries"] = r.temporaries
    summary["proved"] = r.proved
    if as_json:
        click.echo(json.dumps(summary))
        return
    proof = {True: "; proved optimal over all pair-elimination orders", False: "; not proved (search stopped)"}
    click.echo(
        f"{label}  {scheme.tensor.label()}  rank {scheme.rank}  {domain}: {r.naive} naive additions -> {r.additions} "
        f"({method}: A {r.u.additions}, B {r.v.additions}, C {r.w.additions}; depth {summary['depth']}, "
        f"temporaries {r.temporaries}{proof.get(r.proved, '')})" + (f"; program written to {out}" if out else "")
    )


def _exportable(path: str, fmt: str | None, domain: str | None) -> tuple[Scheme, str]:
    """The single scheme in PATH and the ring (ZT, Z or Q) it holds over, whatever its file claims:
    code runs over the reals, so a claim of F2 is no reason to refuse a scheme that holds over Z."""
    src = one_source(path, fmt)
    scheme = src.scheme
    assert scheme is not None
    if domain is not None:
        try:
            dom = Domain.parse(domain)
        except FlipforgeError as exc:
            fail(f"--domain: {exc}")
        if dom.p is not None:
            fail(f"--domain must be ZT, Z or Q for code that runs over the reals, not {dom}")
        res = verify(scheme, dom)
        if not res.valid:
            fail(f"{src.label} is not a valid scheme over {dom} ({res.summary()}); refusing to use it", EXIT_FAIL)
        return scheme, str(res.domain)
    ring = coefficient_class(scheme)  # ZT, Z or Q: the smallest ring its coefficients lie in
    res = verify(scheme, ring)
    if res.valid:
        claim = scheme.domain
        if claim is not None and claim.p is not None:
            click.echo(
                f"flipforge: {src.label} is claimed over {claim}; it also holds over {ring}, exporting as {ring}",
                err=True,
            )
        return scheme, ring
    fields = [d for d in valid_over(scheme) if d.startswith("F")]
    if fields:
        fail(
            f"{src.label}: the scheme holds over {' and '.join(fields)} only, not over {ring}; "
            "code runs over the reals (lift it to Z or Q first: flipforge lift)"
        )
    fail(f"{src.label} is not a valid scheme ({res.summary()}); refusing to use it", EXIT_FAIL)
    raise AssertionError  # not reached: fail exits


@click.command("export", cls=OneLineCommand)
@click.argument("path", metavar="PATH")
@click.option(
    "--lang",
    "-l",
    type=click.Choice(LANGUAGES),
    required=True,
    help="The language to write.",
)
@click.option(
    "--reduce",
    "use_reduce",
    is_flag=True,
    show_default="off",
    help="Use the CSE program, which needs fewer additions.",
)
@click.option(
    "--method",
    "-m",
    type=click.Choice(METHODS),
    default="greedy",
    show_default=True,
    help="The CSE method used with --reduce.",
)
@click.option(
    "--name",
    default="matmul",
    show_default=True,
    help="The name of the generated function: a valid identifier of the language that is not reserved there.",
)
@click.option(
    "--domain",
    "-d",
    default=None,
    show_default="the ring of its coefficients (ZT, Z or Q), whatever field the file claims",
    help="Check the scheme over this ring (ZT, Z or Q) before exporting it.",
)
@from_option()
@out_option("standard output", "Write the code to this file.")
@friendly_errors
def export_command(
    path: str,
    lang: str,
    use_reduce: bool,
    method: str,
    name: str,
    domain: str | None,
    fmt: str | None,
    out: str | None,
) -> None:
    """Write a verified scheme as code in Python, NumPy, C, LaTeX or Markdown.

    \b
    python:   NAME(A, B) -> C on nested lists, any ring (ints, Fractions, floats)
    numpy:    NAME(A, B, recursive=False, cutoff=64) -> C on block matrices; recursive=True
              applies the scheme again to the block products while they are larger than cutoff
    c:        void NAME(const double *A, int lda, const double *B, int ldb, double *C, int ldc)
              (C99, row-major, C = A*B for an n x m A and m x p B, C overwritten)
    latex:    the products m_t and the outputs c_ik as formulas (markdown: the same in $$ $$)

    Structured products (ug-444, ss-222, gt-444, ...) export to python, c, latex and markdown:
    the functions take full matrices (NAME(X) and const double *X, int ldx for X·Xᵀ) and read
    only the free entries (the docstring says which); every entry of C is written, symmetric
    results in both triangles, zeros where the structure (or a suffix a/b/c) leaves none.
    Polynomial products (pm-22) take and return coefficient lists, lowest degree first.

    Only schemes valid over Z or Q are exported (an F2-only scheme computes the wrong thing
    over the reals); a file that claims F2 or F3 is checked over Z or Q all the same and
    exported when the scheme holds there. A scheme with integer coefficients gives integer code: on int input the
    Python and NumPy functions return ints, on Fraction input Fractions. Python keywords and
    built-ins, C keywords, np for NumPy and the names the code uses itself cannot be --name.

    \b
    Examples:
      flipforge export builtin:winograd --lang c --reduce --name winograd -o winograd.c
      flipforge export best-23.json --lang numpy --out laderman.py
    """
    check_function_name(lang, name)  # before reading: a bad name is bad input (exit 2)
    scheme, ring = _exportable(path, fmt, domain)
    if scheme.domain is not None and scheme.domain.name != ring:
        scheme = scheme.with_domain(ring)
    reduced = _reduce(scheme, method, 0, 50, None) if use_reduce else None
    text = export_code(scheme, lang, domain=ring, name=name, reduced=reduced)
    if out:
        try:
            Path(out).write_text(text)
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or exc})")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)
