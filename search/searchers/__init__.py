"""Search strategies behind one seam (``base.Searcher``), registered by name.

A new strategy is one module in this folder plus one ``register`` line below; ``flipforge
search --searcher NAME`` then runs it on every backend, and its options appear in ``--help``.
"""

from __future__ import annotations

from typing import Any

from flipforge.schemes import SchemeError

from .base import Candidate, Progress, Report, Searcher, SearcherParams
from .evolution import EvolutionSearcher
from .flip_gfq import FlipGFqSearcher
from .flip_pool import FlipPoolSearcher
from .meta import MetaSearcher
from .numeric import NumericSearcher
from .sparse import SparseSearcher
from .symmetric import SymmetricSearcher

__all__ = [
    "SEARCHERS",
    "DEFAULT_SEARCHER",
    "register",
    "get_searcher",
    "make_params",
    "Candidate",
    "Progress",
    "Report",
    "Searcher",
    "SearcherParams",
]

SEARCHERS: dict[str, type[Searcher]] = {}
DEFAULT_SEARCHER = "flip-pool"


def register(cls: type[Searcher]) -> type[Searcher]:
    """Make a searcher class available under its ``name``."""
    SEARCHERS[cls.name] = cls
    return cls


register(FlipPoolSearcher)
register(EvolutionSearcher)
register(MetaSearcher)
register(NumericSearcher)
register(SymmetricSearcher)
register(SparseSearcher)
register(FlipGFqSearcher)


def get_searcher(name: str) -> type[Searcher]:
    """The searcher class registered as ``name``; SchemeError lists the names otherwise."""
    try:
        return SEARCHERS[name]
    except KeyError:
        raise SchemeError(f"no searcher named {name!r} (known: {', '.join(sorted(SEARCHERS))})") from None


def make_params(name: str, values: dict[str, Any]) -> SearcherParams:
    """The searcher's options from stored or command-line values; SchemeError says what is wrong."""
    cls = get_searcher(name)
    try:
        return cls.Params.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise SchemeError(f"{name}: {exc}") from None
