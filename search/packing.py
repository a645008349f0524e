"""Between exact Schemes and the kernels' packed factors (one uint64 bitplane pair per factor)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from flipforge.schemes import Domain, Scheme, SchemeError, Tensor, TensorError
from flipforge.schemes.coeffs import residues

from .params import DOMAIN_CODES, F2, ZT

__all__ = [
    "MAX_WIDTH",
    "SEARCH_DOMAINS",
    "RUN_DOMAINS",
    "Packed",
    "pack",
    "unpack",
    "bitplanes",
    "check_width",
    "search_domain",
    "pool_domain",
]

MAX_WIDTH = 64
SEARCH_DOMAINS = tuple(DOMAIN_CODES)  # what the kernels walk over
RUN_DOMAINS = (*SEARCH_DOMAINS, "Z", "Q", "GF4", "F9")  # what a run may prove its results in (Z, Q: numeric
# searchers; GF4, F9: flip-gfq, which holds its schemes as element indices, not bitplanes)


@dataclass(frozen=True, eq=False)
class Packed:
    """A scheme as the kernels see it: ``fp``/``fn`` uint64 (rank, 3), bit e = entry e is +1/-1."""

    fp: np.ndarray
    fn: np.ndarray
    domain: str

    @property
    def rank(self) -> int:
        return int(self.fp.shape[0])

    @property
    def code(self) -> int:
        return DOMAIN_CODES[self.domain]

    def key(self) -> bytes:
        """A digest independent of term order and of the signs of each term's factors.

        Two schemes with the same key are the same set of rank-one terms; pools use it to
        keep their members distinct.
        """
        fp, fn = self.fp.copy(), self.fn.copy()
        if self.code != F2:
            for s in (0, 1):
                sup = fp[:, s] | fn[:, s]
                low = sup & (~sup + np.uint64(1))
                neg = (fn[:, s] & low) != 0
                for q in (s, 2):
                    fp[neg, q], fn[neg, q] = fn[neg, q], fp[neg, q].copy()
        rows = np.concatenate([fp, fn], axis=1)
        order = np.lexsort(rows.T[::-1])
        return hashlib.blake2b(rows[order].tobytes(), digest_size=16).digest()


def search_domain(name: str, allowed: tuple[str, ...] = SEARCH_DOMAINS) -> str:
    """Validate a search domain name (F2, F3 or ZT; Z or Q where ``allowed``) and return its canonical spelling."""
    dom = Domain.parse(name, extension="GF4" in allowed).name
    if dom not in allowed:
        if dom in RUN_DOMAINS:
            raise SchemeError(f"flip-graph search runs over F2, F3 or ZT, not {dom} (--searcher numeric: Z, Q)")
        raise SchemeError(f"search runs over F2, F3, ZT (flip graphs) or Z, Q (numeric), not {dom}")
    return dom


def pool_domain(domain: str) -> str:
    """The packing of a run's pools: its own domain, or ZT for a run over Z or Q (start schemes
    there are ternary; what a numeric searcher finds over Z or Q lives in best files and the database)."""
    return "ZT" if domain in ("Z", "Q", "GF4", "F9") else domain


def check_width(tensor: Tensor) -> None:
    """The kernels pack a factor into 64 bits: refuse tensors with a longer side."""
    if max(tensor.shape) > MAX_WIDTH:
        raise TensorError(
            f"{tensor.label()}: factors of length {max(tensor.shape)} do not fit the 64-bit kernels "
            f"(each of n*m, m*p, p*n must be <= {MAX_WIDTH})"
        )


def _signed(arr: np.ndarray, domain: str, where: str) -> np.ndarray:
    """Coefficients as int8 in {-1, 0, 1} for the domain, or a SchemeError saying why not."""
    if domain == "ZT":
        if arr.dtype == object or np.abs(arr).max(initial=0) > 1:
            raise SchemeError(f"{where}: coefficients must lie in {{-1, 0, 1}} for a ZT search")
        return arr.astype(np.int8)
    p = 2 if domain == "F2" else 3
    res = residues(arr, p)
    if res is None:
        raise SchemeError(f"{where}: a coefficient has a denominator divisible by {p}")
    return np.where(res == 2, -1, res).astype(np.int8)


def bitplanes(signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of coefficients in {-1, 0, 1} as (pos, neg) uint64 bitplanes, one word per row."""
    weights = np.uint64(1) << np.arange(signed.shape[1], dtype=np.uint64)
    pos = ((signed == 1).astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    neg = ((signed == -1).astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    return pos, neg


def pack(scheme: Scheme, domain: str) -> Packed:
    """Reduce a scheme's coefficients into the search domain and pack them."""
    check_width(scheme.tensor)
    fp = np.zeros((scheme.rank, 3), np.uint64)
    fn = np.zeros((scheme.rank, 3), np.uint64)
    for s, (name, arr) in enumerate(zip("uvw", scheme.factors, strict=True)):
        fp[:, s], fn[:, s] = bitplanes(_signed(arr, domain, name))
    keep = np.all((fp | fn) != 0, axis=1)
    return Packed(fp[keep], fn[keep], domain)


def unpack(packed: Packed, tensor: Tensor, meta: dict | None = None) -> Scheme:
    """The exact Scheme (entries in {-1, 0, 1}) of a packed one, claimed over its domain."""
    arrays = []
    for s, width in enumerate(tensor.shape):
        bit = np.uint64(1) << np.arange(width, dtype=np.uint64)
        pos = (packed.fp[:, s, None] & bit) != 0
        neg = (packed.fn[:, s, None] & bit) != 0
        arrays.append(pos.astype(np.int64) - neg.astype(np.int64))
    dom = "ZT" if packed.code == ZT else packed.domain
    return Scheme(tensor, arrays[0], arrays[1], arrays[2], Domain.parse(dom), dict(meta or {}))
