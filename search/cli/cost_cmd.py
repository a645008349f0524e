"""``flipforge cost``: the operation count of a scheme (ring additions, F2 XORs, or both with
constant multiplications) and the leading constant of its recursive use."""

from __future__ import annotations

import json
import math
import time
from fractions import Fraction
from typing import Any

import click
from flipforge.schemes import Domain, FlipforgeError, Scheme
from flipforge.schemes.cost import BP_MAX_INPUTS, COST_METHODS, MODELS, Cost, reduce_mod, scheme_cost
from flipforge.verify import verify

from ._common import EXIT_FAIL, OneLineCommand, fail, friendly_errors, from_option, one_source

__all__ = ["cost_command", "MAX_RESTARTS", "MAX_SEED"]

MAX_RESTARTS = 1_000_000
MAX_SEED = 2**63 - 1
DEFAULT_RESTARTS = {"anneal": 2, "exact": 2}  # seconds per restart on a 4x4x4 scheme; the others 50


def _check_options(model: str, method: str, restarts: int | None, seconds: float | None, seed: int) -> None:
    """Every option in its range before any file is read (one line, exit 2)."""
    if method == "bp" and model != "xor":
        fail(f"--method bp counts XORs over F2: use it with --model xor, not --model {model}")
    if restarts is not None and not 1 <= restarts <= MAX_RESTARTS:
        fail(f"--restarts must be from 1 to {MAX_RESTARTS:,}, not {restarts}")
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        fail(f"--time must be a finite number of seconds, at least 0, not {seconds}")
    if not 0 <= seed <= MAX_SEED:
        fail(f"--seed must be from 0 to 2^63-1, not {seed}")


def _verified(path: str, fmt: str | None, domain: str | None) -> tuple[Scheme, Domain, str]:
    """The single scheme in PATH, valid in ``domain`` (default: the one its file claims, else its
    coefficients' ring, as ``flipforge verify``): (scheme, domain, label); exit 1 when invalid."""
    dom = None
    if domain is not None:
        try:
            dom = Domain.parse(domain)
        except FlipforgeError as exc:
            fail(f"--domain: {exc}")
    src = one_source(path, fmt)
    assert src.scheme is not None
    res = verify(src.scheme, dom)
    if not res.valid:
        where = f" over {dom}" if dom is not None else ""
        fail(f"{src.label} is not a valid scheme{where} ({res.summary()}); refusing to use it", EXIT_FAIL)
    return src.scheme, res.domain, src.label


def _mod2_origin(scheme: Scheme, dom: Domain, label: str, given: bool) -> str:
    """Why the xor model may count this scheme: it was checked over F2, or its reduction mod 2
    holds over F2 (exit 2 when it does not)."""
    if dom.p == 2:
        return "--domain F2" if given else "claimed"
    try:
        holds = verify(reduce_mod(scheme, 2), "F2").valid
    except FlipforgeError:  # a denominator divisible by 2
        holds = False
    if not holds:
        fail(f"{label} holds over {dom} but not over F2 (its coefficients mod 2 fail): the xor model needs F2")
    return f"reduced mod 2 from {dom}"


def _fraction(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator} ≈ {float(q):.4g}"


def _recursive(cost: Cost) -> tuple[dict[str, Any] | None, str | None]:
    """The recursive constant as JSON, or why there is none."""
    scheme = cost.reduced.scheme
    fmt = scheme.fmt
    if fmt is None:
        return None, "the recursive constant needs a matrix multiplication scheme of a square format <n,n,n>"
    if len(set(fmt)) != 1:
        return None, f"the recursive constant needs a square format <n,n,n>, not {scheme.tensor.label()}"
    rec = cost.recursive
    if rec is None:
        return None, f"the recursive constant needs rank r > n^2 (here r = {scheme.rank}, n = {fmt[0]})"
    c = rec.constant
    formula = f"{c} N^{rec.exponent:.4f} - {c - 1} N^2"
    return {
        "n": rec.n,
        "exponent": rec.exponent,
        "constant": str(c),
        "constant_float": float(c),
        "formula": formula,
    }, None


@click.command("cost", cls=OneLineCommand)
@click.argument("path", metavar="PATH")
@click.option(
    "--model",
    type=click.Choice(MODELS),
    default="ring",
    show_default=True,
    help="ring: additions in the scheme's ring (constant multiplications reported, free); xor: XORs of "
    "the scheme reduced mod 2 (it must hold over F2); mixed: ring additions plus constant multiplications.",
)
@click.option(
    "--method",
    "-m",
    type=click.Choice(COST_METHODS),
    default=None,
    show_default="lookahead; bp with --model xor",
    help="The CSE method (see `flipforge reduce`); bp (xor only) is the Boyar-Peralta heuristic over F2, "
    "which may cancel terms, kept only where it beats pair CSE.",
)
@click.option(
    "--restarts",
    type=int,
    default=None,
    show_default="50; 2 for anneal and exact",
    help=f"Runs of the random, anneal and bp methods, from 1 to {MAX_RESTARTS:,}; the best is kept.",
)
@click.option(
    "--time",
    "seconds",
    type=float,
    default=None,
    show_default="no limit",
    help="Stop the restarts (and the exact search) after this many seconds (a finite number, at least 0).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The seed of the random choices.")
@click.option(
    "--domain",
    "-d",
    default=None,
    show_default="the one the file claims, else its coefficients' ring",
    help="Verify the scheme in this domain (F2, F3, F<p>, ZT, Z or Q) instead; over a field the "
    "coefficients are counted mod p.",
)
@from_option()
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print one JSON object.")
@friendly_errors
def cost_command(
    path: str,
    model: str,
    method: str | None,
    restarts: int | None,
    seconds: float | None,
    seed: int,
    domain: str | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Count the operations of a verified scheme and the leading constant of its recursive use.

    ring: additions of the three linear maps (A side, B side, C side) after common-subexpression
    elimination, in the ring the scheme holds in (over F_p, its coefficients mod p); scalings,
    program coefficients other than +1 and -1, are reported but cost nothing. xor: the scheme
    reduced mod 2 (it must hold over F2: claimed, or its reduction mod 2) and one XOR per
    addition. mixed: additions plus scalings. Every program is checked to compute the scheme.

    For a square <n,n,n> scheme of rank r > n^2 costing a operations, using it recursively on
    N = n^k takes T(N) = c N^(log_n r) - (c - 1) N^2 operations, c = 1 + a/(r - n^2): Strassen
    (r = 7, a = 18) has c = 7, Strassen-Winograd (a = 15) c = 6.

    \b
    Examples:
      flipforge cost builtin:winograd                      # 15 additions, c = 6
      flipforge cost builtin:strassen --model mixed --json
      flipforge cost 444-47-mod2.exp --model xor           # XORs by Boyar-Peralta
      flipforge cost laderman.exp --method anneal --restarts 8
    """
    method = method or ("bp" if model == "xor" else "lookahead")
    _check_options(model, method, restarts, seconds, seed)
    runs = restarts if restarts is not None else DEFAULT_RESTARTS.get(method, 50)
    scheme, dom, label = _verified(path, fmt, domain)
    origin = _mod2_origin(scheme, dom, label, domain is not None) if model == "xor" else None
    t0 = time.perf_counter()
    cost = scheme_cost(scheme, model, method, domain=dom, seed=seed, restarts=runs, seconds=seconds)
    elapsed = time.perf_counter() - t0
    depth, width = cost.shape()
    rec, why = _recursive(cost)
    fa, fb, fc = cost.families
    sa, sb, sc = cost.scalings
    if as_json:
        summary = {
            "path": label,
            "format": scheme.tensor.label(),
            "rank": scheme.rank,
            "domain": str(dom),
            "model": model,
            "counted_over": cost.domain,
            "mod2": origin,
            "method": method,
            "pair_cse_only": list(cost.pair_only),
            "restarts": runs,
            "seed": seed,
            "naive": cost.reduced.naive,
            "additions": cost.additions,
            "additions_a": fa,
            "additions_b": fb,
            "additions_c": fc,
            "scalings": sa + sb + sc,
            "scalings_a": sa,
            "scalings_b": sb,
            "scalings_c": sc,
            "operations": cost.operations,
            "depth": depth,
            "width": width,
            "temporaries": cost.reduced.temporaries,
            "recursive": rec,
            "recursive_note": why,
            "seconds": round(elapsed, 3),
        }
        click.echo(json.dumps(summary))
        return
    where = f"F2 ({origin})" if origin else str(dom)
    word = "XORs" if model == "xor" else "additions"
    counts = f"{word} {cost.additions} (A {fa}, B {fb}, C {fc}; naive {cost.reduced.naive})"
    scaled = f"scalings {sa + sb + sc} (A {sa}, B {sb}, C {sc})"
    how = method
    if cost.pair_only:
        how += f" (pair CSE on {', '.join(cost.pair_only)}: more than {BP_MAX_INPUTS} inputs and forms)"
    click.echo(f"{label}  {scheme.tensor.label()}  rank {scheme.rank}  {where}  {model} model, {how}")
    if model == "mixed":
        click.echo(f"  operations {cost.operations} = {counts} + {scaled}")
    elif model == "ring":
        click.echo(f"  {counts}, {scaled}")
    else:
        click.echo(f"  {counts}")
    click.echo(f"  depth {depth}, width {width}, temporaries {cost.reduced.temporaries}")
    if rec is None:
        click.echo(f"  recursive: {why}")
    else:
        r = cost.recursive
        assert r is not None
        click.echo(
            f"  recursive on N = {r.n}^k: {rec['formula']} operations "
            f"(exponent log_{r.n} {r.rank} = {r.exponent:.4f}, c = 1 + {cost.operations}/({r.rank} - {r.n * r.n})"
            f" = {_fraction(r.constant)})"
        )
