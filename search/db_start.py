"""``--start db``: start a matmul search from the database, through meta moves.

The seeds are the best stored schemes of the format itself (in any orientation: the cyclic and
transpose symmetries move them), of each neighbour one index larger (projected back along that
axis, at every index) and of each neighbour one index smaller (extended by naive terms). Each is
brought into the search domain (reduced mod p, terms merged) and kept only if it holds there, so
the pools start from the lowest ranks the database can give.
"""

from __future__ import annotations

from collections.abc import Callable

from flipforge.schemes import Domain, FlipforgeError, Scheme, SchemeError, Tensor
from flipforge.schemes.canonical import canonical_hash
from flipforge.schemes.coeffs import residues
from flipforge.schemes.db import SchemeDB
from flipforge.schemes.meta import extend, merge_pairs, permute_to, project
from flipforge.schemes.tensor import format_name, sorted_format_name
from flipforge.verify import verify

__all__ = ["db_start_schemes", "PER_FORMAT", "RANK_SPAN"]

PER_FORMAT = 8  # best stored schemes read per (neighbour) format
RANK_SPAN = 2  # seeds kept: up to this far above the lowest rank found


def _in_domain(scheme: Scheme, domain: str) -> Scheme | None:
    """The scheme as one over the search domain (F2/F3: coefficients mod p, then merged), or None."""
    dom = Domain.parse(domain)
    if dom.p is not None:
        mods = [residues(a, dom.p) for a in scheme.factors]
        if any(m is None for m in mods):
            return None
        field = Scheme.from_arrays(scheme.tensor, *mods, dom, dict(scheme.meta), check=False)  # type: ignore[arg-type]
        field = merge_pairs(field)
    else:
        if scheme.domain_problem(dom) is not None:
            return None
        field = scheme.with_domain(dom)
    return field if field.rank and verify(field, dom).valid else None


def _stored(database: SchemeDB, fmt: tuple[int, int, int]) -> list[Scheme]:
    schemes = []
    for row in database.list(fmt=sorted_format_name(fmt), sort="rank", limit=PER_FORMAT):
        try:
            schemes.append(permute_to(row.scheme(), fmt))
        except FlipforgeError:
            continue  # a row that does not parse is the database's problem, not this search's
    return schemes


def db_start_schemes(
    tensor: Tensor, domain: str, database: SchemeDB, note: Callable[[str], None] | None = None
) -> list[Scheme]:
    """Start schemes for ``tensor`` from ``database`` (see the module docstring); SchemeError when
    the database holds nothing usable."""
    fmt = tensor.fmt
    if fmt is None:
        raise SchemeError(f"--start db needs a matrix multiplication format, not {tensor.label()}")
    moved: list[tuple[Scheme, str]] = [(s, "stored") for s in _stored(database, fmt)]
    for ax in range(3):
        bigger = tuple(fmt[d] + (d == ax) for d in range(3))
        for s in _stored(database, bigger):  # type: ignore[arg-type]
            moved += [(project(s, ax, i), f"projected from {format_name(bigger)}") for i in range(bigger[ax])]
        if fmt[ax] > 1:
            smaller = tuple(fmt[d] - (d == ax) for d in range(3))
            moved += [(extend(s, ax), f"extended from {format_name(smaller)}") for s in _stored(database, smaller)]  # type: ignore[arg-type]
    seeds: dict[str, tuple[Scheme, str]] = {}
    for s, how in moved:
        t = _in_domain(s, domain)
        if t is not None:
            seeds.setdefault(canonical_hash(t, domain), (t, how))
    if not seeds:
        raise SchemeError(
            f"--start db: the database holds no scheme of {format_name(fmt)} or of a format one index larger "
            f"or smaller that holds over {domain}; start from naive"
        )
    low = min(s.rank for s, _ in seeds.values())
    kept = sorted((v for v in seeds.values() if v[0].rank <= low + RANK_SPAN), key=lambda v: v[0].rank)
    if note is not None:
        kinds = sorted({how for _, how in kept})
        note(f"--start db: {len(kept)} start scheme(s) from rank {low} ({'; '.join(kinds)})")
    return [s for s, _ in kept]
