"""The Searcher seam: what every search strategy offers the backends and the orchestrator.

A searcher is built from the target tensor, the search domain, its own options (a
``SearcherParams`` dataclass that checks itself), a seed and the start schemes. It does a
bounded amount of work per ``step`` and returns ``Report``s, each carrying an exact
``Candidate``: the orchestrator re-checks every candidate exactly before anything is saved,
so a searcher can never make the product report a wrong scheme. ``snapshot`` and ``restore``
move its whole state as plain data (pools, RNG state, counters), which is how a lost worker is
replaced and how the contract tests check it; ``receive`` takes what other workers share (a
new best). Searchers never touch files or the database.

This module imports neither numba nor the kernels, so the command line can list every
searcher's options without loading them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
from flipforge.schemes import Domain, Scheme, SchemeError, Tensor
from flipforge.schemes.coeffs import exact_array

from ..packing import Packed, unpack

__all__ = [
    "Candidate",
    "Report",
    "Progress",
    "SearcherParams",
    "Searcher",
    "option",
    "TUNING_LIMIT",
]

TUNING_LIMIT = 2**62  # the kernels count in int64


def option(
    default: Any,
    help: str,
    low: float | None = None,
    high: float | None = None,
    cli: bool = True,
    check: Callable[[str], str | None] | None = None,
) -> Any:
    """A searcher option: a dataclass field with its help text and range (``--name`` on the CLI).

    A text option (a ``str`` default) gives ``check``: it returns what is wrong with a value, or None.
    """
    return field(default=default, metadata={"help": help, "low": low, "high": high, "cli": cli, "check": check})


@dataclass(frozen=True)
class SearcherParams:
    """Base of every searcher's options: fields made with ``option``, checked on construction."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            flag = "--" + f.name.replace("_", "-")
            kind = type(f.default) if f.default is not MISSING else int
            if kind is str:
                why = meta["check"](value) if isinstance(value, str) and meta.get("check") else None
                if not isinstance(value, str) or why:
                    raise ValueError(f"{flag}: {why or f'a text value was expected, not {value!r}'}")
                continue
            if kind is int:
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            low, high = meta.get("low"), meta.get("high")
            if ok and low is not None:
                ok = value >= low
            if ok and high is not None:
                ok = value <= high
            if not ok:
                span = f" from {low:g} to {high:g}" if low is not None and high is not None else ""
                raise ValueError(f"{flag} must be {'an integer' if kind is int else 'a number'}{span}, not {value!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearcherParams:
        """Build from stored or command-line values; ValueError names an unknown or bad one."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Candidate:
    """An exact scheme on the wire: packed ±1 bitplanes, or integer factors over one denominator.

    ``target`` is the label of the tensor it decomposes (a meta searcher may report a scheme of
    another format than the run's); ``factors`` are int64 numerators of u, v, w, each divided by
    ``denominator``.
    """

    target: str
    packed: Packed | None = None
    factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    denominator: int = 1

    def __post_init__(self) -> None:
        if (self.packed is None) == (self.factors is None):
            raise ValueError("a candidate carries either packed bitplanes or integer factors")
        if self.denominator < 1:
            raise ValueError("a candidate's denominator must be positive")

    @property
    def rank(self) -> int:
        return self.packed.rank if self.packed is not None else int(self.factors[0].shape[0])  # type: ignore[index]

    def to_scheme(self, tensor: Tensor, domain: str, meta: dict[str, Any] | None = None) -> Scheme:
        """The exact Scheme this candidate claims for ``tensor`` over ``domain`` (not yet verified)."""
        if self.packed is not None:
            return unpack(self.packed, tensor, meta)
        arrays = []
        for a in self.factors:  # type: ignore[union-attr]
            a = np.asarray(a, dtype=np.int64)
            if self.denominator == 1:
                arrays.append(a)
            else:
                fracs = np.array([Fraction(int(x), self.denominator) for x in a.flat], dtype=object)
                arrays.append(exact_array(fracs.reshape(a.shape)))
        if any(a.shape[1] != n for a, n in zip(arrays, tensor.shape, strict=True)):
            raise SchemeError(f"a candidate's factors do not fit {tensor.label()}")
        dom = Domain.parse(domain, extension=True)
        return Scheme(tensor, arrays[0], arrays[1], arrays[2], dom, dict(meta or {}))

    def key(self) -> bytes:
        """Identity for de-duplication (the pool key for packed candidates)."""
        if self.packed is not None:
            return self.packed.key()
        parts = [np.ascontiguousarray(a, dtype=np.int64).tobytes() for a in self.factors]  # type: ignore[union-attr]
        return b"|".join([str(self.denominator).encode(), *parts])


@dataclass(frozen=True)
class Report:
    """Something a searcher found: an exact candidate and the work it had done by then."""

    candidate: Candidate
    work: int
    cost: int | None = None  # what a searcher with an additions objective lowers at a fixed rank


@dataclass(frozen=True)
class Progress:
    """What a searcher is doing now (the progress line): work done, the rank its pool works at,
    pool sizes, and the rank its walker (or current candidate) is at."""

    work: int
    rank: int
    pools: dict[int, int] = field(default_factory=dict)
    current: int | None = None
    cost: int | None = None  # the cheapest scheme's cost (additions), for a searcher that lowers one


class Searcher(ABC):
    """One search strategy; see the module docstring for the contract.

    Subclasses set ``name`` (the ``--searcher`` value), ``Params`` (their options),
    ``summary`` (one line for ``--help``) and ``domains`` (the search domains they handle).
    """

    name: ClassVar[str]
    Params: ClassVar[type[SearcherParams]]
    summary: ClassVar[str] = ""
    domains: ClassVar[tuple[str, ...]] = ("F2", "F3", "ZT")
    step_budget: ClassVar[int] = 200_000  # work units per step of a worker's loop (about 0.05 s)
    objective: ClassVar[str] = "rank"  # "additions": a cheaper scheme at the same rank is a new best too

    def __init__(
        self, tensor: Tensor, domain: str, params: SearcherParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        self.tensor = tensor
        self.domain = domain
        self.params = params
        self.seed = seed

    @classmethod
    def check_target(cls, tensor: Tensor, domain: str, params: SearcherParams) -> None:
        """Raise SchemeError when this searcher cannot search ``tensor`` (bad input, before a run starts)."""
        return None

    @classmethod
    def goal_reached(cls, params: SearcherParams, target_rank: int | None, rank: int, cost: int | None) -> bool:
        """Whether a run whose best is (rank, cost) is done: the target rank reached, by default."""
        return target_rank is not None and rank <= target_rank

    @staticmethod
    def better(rank: int, cost: int | None, best_rank: int, best_cost: int | None) -> bool:
        """(rank, cost) beats the best: a lower rank, or the same rank at a lower cost."""
        if rank != best_rank:
            return rank < best_rank
        return cost is not None and (best_cost is None or cost < best_cost)

    @classmethod
    def is_compiled(cls) -> bool:
        """False when the first start will compile code (the CLI says it will take a while)."""
        return True

    @classmethod
    def prepare(cls) -> None:
        """Load (or compile) compiled code in this process, so forked workers inherit it."""
        return None

    def warm_up(self) -> None:
        """Load compiled code before the clock starts."""
        self.prepare()

    def budget(self) -> int:
        """Work units per step of a worker's loop (a step should take well under a second)."""
        return self.step_budget

    @abstractmethod
    def step(self, budget: int) -> list[Report]:
        """Do at most ``budget`` units of work; returns new schemes found (lowest rank last)."""

    @abstractmethod
    def progress(self) -> Progress:
        """Work done so far, the rank being worked on, and the pool sizes."""

    @abstractmethod
    def best_rank(self) -> int:
        """The lowest rank this searcher holds a scheme of."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data; ``snapshot()["pools"]`` is ``{rank: [Candidate, ...]}``."""

    @abstractmethod
    def restore(self, snapshot: dict[str, Any]) -> None:
        """Continue exactly from a ``snapshot`` (same future reports as the searcher it came from)."""

    def receive(self, message: Candidate) -> None:  # noqa: B027 (optional hook)
        """A scheme another worker found (a new best of the run); the default ignores it."""
