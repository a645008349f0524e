"""The flip graph around a scheme, as a networkx graph (DESIGN.md §2): over F2 fast, and over a
prime field F_p or ZT (integers in {-1, 0, 1}) with the sign/scalar choices of each flip.

A scheme is a multiset of terms u⊗v⊗w; over F2 each factor is a bit mask (entry i·m+j of A is
bit i·m+j, as in ``Scheme``), a term is the int ``u | v << a | w << (a + b)`` and a scheme the
sorted tuple of its terms. Moves:

- flip: two terms sharing a factor x, x⊗y⊗z + x⊗y'⊗z' = x⊗(y+y')⊗z + x⊗y'⊗(z+z'); both ways
  round (which term keeps its other factor), never creating a zero factor;
- reduction (rank − 1): two terms sharing two factors merge into one (or both vanish);
- split (rank + 1): the inverse of a reduction, x⊗y⊗z = x⊗y⊗z' + x⊗y⊗(z+z');
- plus transition (rank + 1): a⊗b⊗c + a'⊗b'⊗c' = (a+a')⊗b⊗c + a'⊗(b+b')⊗c + a'⊗b'⊗(c+c').

Over F_p and ZT a term is a triple of coefficient tuples, scaled so that the first nonzero entry of
u and of v is 1 (w absorbs the scalars); factors are shared up to a scalar, and a flip is
x⊗y⊗z + μx⊗y'⊗z' = x⊗(y+λy')⊗z + μx⊗y'⊗(z'−(λ/μ)z) for every nonzero λ (ZT: λ = ±1, and a move
that leaves {-1, 0, 1} is skipped). Nodes there are schemes up to term order and term scaling.

Up to symmetry, an F2 scheme is replaced by the least of its images under the symmetry group of the
target: term order, the isotropies (X, Y, Z) ∈ GL(n)×GL(m)×GL(p) over F2 and, for <n,n,n>, the
cyclic and transpose symmetries. Every element of the group is turned into one lookup table per
factor, so a canonical form is a few numpy gathers and one lexicographic minimum.

The explorer walks breadth-first from a scheme over the orbits (or the schemes themselves with
``up_to="none"``); each visited node keeps the very scheme the walk reached, so a path in the
graph is a sequence of moves that can be replayed and verified one by one.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import networkx as nx
import numpy as np
from flipforge.schemes import Domain, Scheme, SchemeError, Tensor, linalg, naive_additions
from flipforge.schemes.coeffs import residues

__all__ = [
    "MOVES",
    "Layout",
    "layout_of",
    "to_terms",
    "to_scheme",
    "flips",
    "reductions",
    "plus_transitions",
    "Ring",
    "Space",
    "space",
    "Symmetry",
    "symmetry_group",
    "explore",
    "flip_graph",
    "adjacency",
    "ring_of",
    "ring_terms",
    "ring_scheme",
    "ring_flips",
    "ring_reductions",
    "ring_splits",
    "ring_plus_transitions",
    "move_graph",
    "splits",
    "summary",
    "shortest_path",
]

MOVES = ("flip", "reduce", "split", "plus")
MAX_GROUP = 50_000  # group elements a canonical form may try (GL(3,F2)^3 alone has 4.7 M)

Terms = tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    """Bit widths of the three factors of a target's terms."""

    widths: tuple[int, int, int]

    @property
    def shifts(self) -> tuple[int, int, int]:
        a, b, _ = self.widths
        return (0, a, a + b)

    def split(self, term: int) -> tuple[int, int, int]:
        return tuple((term >> s) & ((1 << w) - 1) for s, w in zip(self.shifts, self.widths, strict=True))  # type: ignore[return-value]

    def join(self, u: int, v: int, w: int) -> int:
        s = self.shifts
        return u | v << s[1] | w << s[2]


def layout_of(tensor: Tensor) -> Layout:
    return Layout(tuple(int(x) for x in tensor.shape))  # type: ignore[arg-type]


def to_terms(scheme: Scheme) -> Terms:
    """The scheme over F2 as a sorted tuple of term ints (entries taken mod 2; zero terms and
    pairs of equal terms cancel)."""
    lay = layout_of(scheme.tensor)
    count: dict[int, int] = {}
    for row in zip(scheme.u, scheme.v, scheme.w, strict=True):
        masks = [sum(1 << i for i, x in enumerate(f) if int(x) % 2) for f in row]
        if all(masks):
            t = lay.join(*masks)
            count[t] = count.get(t, 0) ^ 1
    return tuple(sorted(t for t, odd in count.items() if odd))


def to_scheme(terms: Terms, tensor: Tensor) -> Scheme:
    """The F2 Scheme of a tuple of term ints."""
    lay = layout_of(tensor)
    arrays = [np.zeros((len(terms), w), dtype=np.int64) for w in lay.widths]
    for r, t in enumerate(terms):
        for arr, f in zip(arrays, lay.split(t), strict=True):
            arr[r] = [(f >> i) & 1 for i in range(arr.shape[1])]
    return Scheme(tensor, *arrays, Domain.parse("F2"))


# --- moves ---------------------------------------------------------------------------------------


def _replace(terms: Terms, drop: tuple[int, ...], add: list[int]) -> Terms:
    rest = list(terms)
    for i in sorted(drop, reverse=True):
        del rest[i]
    counts: dict[int, int] = {}
    for t in rest + add:
        counts[t] = counts.get(t, 0) ^ 1
    return tuple(sorted(t for t, odd in counts.items() if odd))


def flips(terms: Terms, lay: Layout) -> Iterator[tuple[str, Terms]]:
    """Every flip of the scheme: (a description, the scheme after it). Same rank, no zero factor
    (over F2 a flip whose new term equals another term would cancel both; it is left out)."""
    parts = [lay.split(t) for t in terms]
    for i, j in itertools.combinations(range(len(terms)), 2):
        for s in range(3):
            if parts[i][s] != parts[j][s]:
                continue
            y, z = (s + 1) % 3, (s + 2) % 3
            for keep, give in ((i, j), (j, i)):
                a, b = list(parts[keep]), list(parts[give])
                a[y] ^= b[y]  # keep: x⊗(y+y')⊗z ; give: x⊗y'⊗(z'+z)
                b[z] ^= parts[keep][z]
                after = _replace(terms, (i, j), [lay.join(*a), lay.join(*b)])
                if a[y] and b[z] and len(after) == len(terms):  # a new term equal to an old one cancels: no flip
                    yield f"flip terms {keep + 1},{give + 1} on factor {'uvw'[s]}", after


def reductions(terms: Terms, lay: Layout) -> Iterator[tuple[str, Terms]]:
    """Every merge of two terms sharing two factors (rank − 1, or − 2 when they cancel)."""
    parts = [lay.split(t) for t in terms]
    for i, j in itertools.combinations(range(len(terms)), 2):
        same = [s for s in range(3) if parts[i][s] == parts[j][s]]
        if len(same) == 2:
            (odd,) = set(range(3)) - set(same)
            merged = list(parts[i])
            merged[odd] ^= parts[j][odd]
            add = [lay.join(*merged)] if merged[odd] else []
            yield f"reduce terms {i + 1},{j + 1}", _replace(terms, (i, j), add)


def splits(terms: Terms, lay: Layout) -> Iterator[tuple[str, Terms]]:
    """Every inverse reduction (rank + 1): a term x⊗y⊗z written as x⊗y⊗z' + x⊗y⊗(z+z'), for
    each factor in the role of z and each z' other than 0 and z."""
    parts = [lay.split(t) for t in terms]
    for i, part in enumerate(parts):
        for s in range(3):
            for other in range(1, 1 << lay.widths[s]):
                if other == part[s] or other < (part[s] ^ other):  # each unordered pair {z', z+z'} once
                    continue
                a, b = list(part), list(part)
                a[s], b[s] = other, part[s] ^ other
                after = _replace(terms, (i,), [lay.join(*a), lay.join(*b)])
                if len(after) == len(terms) + 1:  # a half equal to another term would cancel: a reduction
                    yield f"split term {i + 1} on factor {'uvw'[s]}", after


def plus_transitions(terms: Terms, lay: Layout) -> Iterator[tuple[str, Terms]]:
    """Every plus transition (rank + 1) of two terms with no factor in common, each rotation."""
    parts = [lay.split(t) for t in terms]
    for i, j in itertools.permutations(range(len(terms)), 2):
        if any(parts[i][s] == parts[j][s] for s in range(3)):
            continue
        for rot in range(3):
            p, q = [parts[i][(s + rot) % 3] for s in range(3)], [parts[j][(s + rot) % 3] for s in range(3)]
            new = [(p[0] ^ q[0], p[1], p[2]), (q[0], p[1] ^ q[1], p[2]), (q[0], q[1], p[2] ^ q[2])]
            back = [[t[(s - rot) % 3] for s in range(3)] for t in new]
            after = _replace(terms, (i, j), [lay.join(*t) for t in back])
            if all(all(t) for t in back) and len(after) == len(terms) + 1:
                yield f"plus terms {i + 1},{j + 1} ({'uvw'[rot]} first)", after


_MOVERS = {"flip": flips, "reduce": reductions, "split": splits, "plus": plus_transitions}


# --- other domains: F_p and ZT -------------------------------------------------------------------

Vec = tuple[int, ...]
RTerm = tuple[Vec, Vec, Vec]
RTerms = tuple[RTerm, ...]


@dataclass(frozen=True)
class Ring:
    """Coefficients of a prime field F_p (``p``) or of ZT (``p=None``: integers in {-1, 0, 1})."""

    name: str
    p: int | None

    @property
    def units(self) -> tuple[int, ...]:
        """The scalars λ a flip may use."""
        return tuple(range(1, self.p)) if self.p is not None else (1, -1)

    def fix(self, vec: Iterable[int]) -> Vec | None:
        """The vector reduced mod p, or None when an entry leaves {-1, 0, 1} over ZT."""
        if self.p is not None:
            return tuple(x % self.p for x in vec)
        out = tuple(vec)
        return out if all(-1 <= x <= 1 for x in out) else None

    def inv(self, a: int) -> int:
        return pow(a, -1, self.p) if self.p is not None else a

    def combine(self, a: Vec, lam: int, b: Vec) -> Vec | None:
        """a + λ·b, or None when it leaves the ring."""
        return self.fix(x + lam * y for x, y in zip(a, b, strict=True))

    def ratio(self, a: Vec, b: Vec) -> int | None:
        """μ with b = μ·a, or None when the two are not proportional."""
        mu = next(x for x in b if x) * self.inv(next(x for x in a if x))
        mu = mu % self.p if self.p is not None else mu
        return mu if self.fix(mu * x for x in a) == b else None

    def term(self, x: Iterable[int], y: Iterable[int], z: Iterable[int]) -> RTerm | None:
        """The term scaled so that u and v lead with 1 (None when a factor is zero or leaves ZT)."""
        fx, fy, fz = self.fix(x), self.fix(y), self.fix(z)
        if fx is None or fy is None or fz is None or not (any(fx) and any(fy) and any(fz)):
            return None
        a, b = next(t for t in fx if t), next(t for t in fy if t)
        out = (
            self.fix(self.inv(a) * t for t in fx),
            self.fix(self.inv(b) * t for t in fy),
            self.fix(a * b * t for t in fz),
        )
        return out  # type: ignore[return-value]

    def replace(self, terms: RTerms, drop: tuple[int, ...], add: Iterable[tuple[Vec, Vec, Vec]]) -> RTerms:
        """The scheme with the terms ``drop`` replaced by ``add`` (zero terms left out)."""
        rest = [t for k, t in enumerate(terms) if k not in drop]
        rest += [t for t in (self.term(*a) for a in add) if t is not None]
        return tuple(sorted(rest))

    def vectors(self, width: int) -> Iterator[Vec]:
        values = range(self.p) if self.p is not None else (-1, 0, 1)
        return itertools.product(values, repeat=width)


def ring_of(domain: str) -> Ring:
    """The Ring of a domain name; SchemeError for Z and Q (their flip graphs are infinite)."""
    dom = Domain.parse(domain)
    if dom.name == "ZT" or dom.p is not None:
        return Ring(str(dom), dom.p)
    raise SchemeError(f"domain {dom}: the flip graph is walked over F2, a prime field F_p or ZT")


def ring_terms(scheme: Scheme, ring: Ring) -> RTerms:
    """The scheme's terms over the ring, scaled (entries mod p; over ZT they must be -1, 0 or 1)."""
    if ring.p is not None:
        arrays = [residues(a, ring.p) for a in scheme.factors]
        if any(a is None for a in arrays):
            raise SchemeError(f"the scheme has a coefficient with a denominator divisible by {ring.p}")
    else:
        problem = scheme.domain_problem(Domain("ZT"))
        if problem:
            raise SchemeError(f"the scheme is not over ZT: {problem}")
        arrays = [np.asarray(a, dtype=np.int64) for a in scheme.factors]
    rows = zip(*(a.tolist() for a in arrays), strict=True)  # type: ignore[union-attr]
    return ring.replace((), (), rows)


def ring_scheme(terms: RTerms, tensor: Tensor, ring: Ring) -> Scheme:
    """The Scheme of ring terms (over ``ring.name``)."""
    widths = tensor.shape
    arrays = [np.array([t[s] for t in terms], dtype=np.int64).reshape(len(terms), widths[s]) for s in range(3)]
    return Scheme(tensor, *arrays, Domain.parse(ring.name))


def ring_flips(terms: RTerms, ring: Ring) -> Iterator[tuple[str, RTerms]]:
    """Every flip over the ring: ordered pairs sharing a factor up to μ, every scalar λ."""
    for i, j in itertools.permutations(range(len(terms)), 2):
        for s in range(3):
            mu = ring.ratio(terms[i][s], terms[j][s])
            if mu is None:
                continue
            y, z = (s + 1) % 3, (s + 2) % 3
            for lam in ring.units:
                a, b = list(terms[i]), list(terms[j])
                new_y = ring.combine(a[y], lam, b[y])  # x⊗(y+λy')⊗z
                new_z = ring.combine(b[z], -lam * ring.inv(mu), a[z])  # μx⊗y'⊗(z'−(λ/μ)z)
                if new_y is None or new_z is None or not any(new_y) or not any(new_z):
                    continue
                a[y], b[z] = new_y, new_z
                yield f"flip terms {i + 1},{j + 1} on factor {'uvw'[s]} (λ={lam})", ring.replace(terms, (i, j), [a, b])  # type: ignore[list-item]


def ring_reductions(terms: RTerms, ring: Ring) -> Iterator[tuple[str, RTerms]]:
    """Every merge of two terms sharing two factors up to scalars (rank − 1, or − 2 when they cancel)."""
    for i, j in itertools.combinations(range(len(terms)), 2):
        mus = {s: ring.ratio(terms[i][s], terms[j][s]) for s in range(3)}
        same = [s for s in range(3) if mus[s] is not None]
        if len(same) < 2:
            continue
        s1, s2 = same[:2]
        (odd,) = set(range(3)) - {s1, s2}
        merged = ring.combine(terms[i][odd], mus[s1] * mus[s2], terms[j][odd])  # type: ignore[operator]
        if merged is None:
            continue
        new = list(terms[i])
        new[odd] = merged
        yield f"reduce terms {i + 1},{j + 1}", ring.replace(terms, (i, j), [new] if any(merged) else [])  # type: ignore[list-item]


def ring_splits(terms: RTerms, ring: Ring) -> Iterator[tuple[str, RTerms]]:
    """Every inverse reduction over the ring: x⊗y⊗z = x⊗y⊗z' + x⊗y⊗(z−z')."""
    for i, term in enumerate(terms):
        for s in range(3):
            for other in ring.vectors(len(term[s])):
                rest = ring.combine(term[s], -1, other)
                if rest is None or not any(rest) or not any(other) or other > rest:  # each pair once
                    continue
                a, b = list(term), list(term)
                a[s], b[s] = other, rest
                yield f"split term {i + 1} on factor {'uvw'[s]}", ring.replace(terms, (i,), [a, b])  # type: ignore[list-item]


def ring_plus_transitions(terms: RTerms, ring: Ring) -> Iterator[tuple[str, RTerms]]:
    """Every plus transition over the ring, each rotation:
    a⊗b⊗c + a'⊗b'⊗c' = a⊗(b−b')⊗c + a⊗b'⊗(c−c') + (a+a')⊗b'⊗c'."""
    for i, j in itertools.permutations(range(len(terms)), 2):
        if any(ring.ratio(terms[i][s], terms[j][s]) is not None for s in range(3)):
            continue
        for rot in range(3):
            (a, b, c), (a2, b2, c2) = ([t[(s + rot) % 3] for s in range(3)] for t in (terms[i], terms[j]))
            bb, cc, aa = ring.combine(b, -1, b2), ring.combine(c, -1, c2), ring.combine(a, 1, a2)
            if bb is None or cc is None or aa is None:
                continue
            new = [(a, bb, c), (a, b2, cc), (aa, b2, c2)]
            back = [tuple(t[(s - rot) % 3] for s in range(3)) for t in new]
            yield f"plus terms {i + 1},{j + 1} ({'uvw'[rot]} first)", ring.replace(terms, (i, j), back)  # type: ignore[arg-type]


_RING_MOVERS = {"flip": ring_flips, "reduce": ring_reductions, "split": ring_splits, "plus": ring_plus_transitions}


# --- symmetry ------------------------------------------------------------------------------------


def _gl2(n: int) -> list[np.ndarray]:
    """GL(n, F2), all of it."""
    out = []
    for bits in range(1 << (n * n)):
        mat = np.array([(bits >> k) & 1 for k in range(n * n)], dtype=np.int64).reshape(n, n)
        if linalg.rank(mat, 2) == n:
            out.append(mat)
    return out


def _all_matrices(rows: int, cols: int) -> np.ndarray:
    """Every rows×cols 0/1 matrix, indexed by its bit mask (entry i·cols+j is bit i·cols+j)."""
    k = rows * cols
    bits = (np.arange(1 << k)[:, None] >> np.arange(k)[None, :]) & 1
    return bits.reshape(-1, rows, cols)


def _masks(mats: np.ndarray) -> np.ndarray:
    flat = mats.reshape(mats.shape[0], -1) % 2
    return flat @ (1 << np.arange(flat.shape[1]))


@dataclass(frozen=True)
class Symmetry:
    """The symmetry group as lookup tables: new slot s of element g is ``tables[s][g][old slot
    sources[g][s]]``."""

    tables: tuple[np.ndarray, np.ndarray, np.ndarray]
    sources: np.ndarray  # (G, 3)
    layout: Layout

    @property
    def size(self) -> int:
        return int(self.sources.shape[0])

    def canonical(self, terms: Terms) -> Terms:
        """The least image of the scheme under the group (images as sorted tuples of terms)."""
        if not terms:
            return terms
        lay = self.layout
        parts = np.array([lay.split(t) for t in terms], dtype=np.int64).T  # (3, r)
        images = np.zeros((self.size, len(terms)), dtype=np.int64)
        for s in range(3):
            src = parts[self.sources[:, s]]  # (G, r): the old slot each element reads
            images |= np.take_along_axis(self.tables[s], src, axis=1) << lay.shifts[s]
        images.sort(axis=1)
        best = np.lexsort(images.T[::-1])[0]
        return tuple(int(x) for x in images[best])

    def image(self, terms: Terms, g: int) -> Terms:
        parts = [self.layout.split(t) for t in terms]
        out = []
        for p in parts:
            new = [int(self.tables[s][g][p[self.sources[g][s]]]) for s in range(3)]
            out.append(self.layout.join(*new))
        return tuple(sorted(out))


def symmetry_group(tensor: Tensor, up_to: str = "isotropy") -> Symmetry:
    """The group used for orbits: ``isotropy`` (isotropies, and for <n,n,n> the cyclic and
    transpose symmetries) or ``none`` (the identity: term order only). SchemeError when the
    target is not matrix multiplication or the group is too large to try every element."""
    lay = layout_of(tensor)
    if up_to == "none":
        ident = tuple(np.arange(1 << w)[None, :] for w in lay.widths)
        return Symmetry(ident, np.array([[0, 1, 2]]), lay)  # type: ignore[arg-type]
    if up_to != "isotropy":
        raise SchemeError(f"up to {up_to!r}: use isotropy or none")
    if tensor.fmt is None:
        raise SchemeError(f"{tensor.label()}: symmetries are known for matrix multiplication only; use --up-to none")
    return _matmul_group(tuple(tensor.fmt))  # type: ignore[arg-type]


@lru_cache(maxsize=8)
def _matmul_group(fmt: tuple[int, int, int]) -> Symmetry:
    n, m, p = fmt
    gls = {k: _gl2(k) for k in {n, m, p}}
    square = n == m == p
    outers = 6 if square else 1
    size = len(gls[n]) * len(gls[m]) * len(gls[p]) * outers
    if size > MAX_GROUP:
        raise SchemeError(
            f"<{n},{m},{p}>: its symmetry group over F2 has {size} elements, too many to try each "
            f"(at most {MAX_GROUP}); use --up-to none"
        )
    mats_u, mats_v, mats_c = _all_matrices(n, m), _all_matrices(m, p), _all_matrices(p, n)
    inv = {k: {id(g): np.asarray(linalg.inverse(g, 2), dtype=np.int64) for g in gls[k]} for k in gls}
    # outer maps for <n,n,n>: (source slot, value map) per new slot; rotation (u,v,w) -> (v,w,u),
    # transpose (u,v,w) -> (vᵀ,uᵀ,wᵀ)
    ident = np.arange(1 << (n * m))
    outer_maps = [((0, 1, 2), (ident, ident, ident))]
    if square:
        tr = _masks(np.transpose(_all_matrices(n, n), (0, 2, 1)))
        outer_maps = []
        for rot in range(3):
            src = tuple((s + rot) % 3 for s in range(3))
            outer_maps.append((src, (ident, ident, ident)))
            tsrc = (src[1], src[0], src[2])
            outer_maps.append((tsrc, (tr, tr, tr)))
    tables: list[list[np.ndarray]] = [[], [], []]
    sources = []
    for x, y, z in itertools.product(gls[n], gls[m], gls[p]):
        xi, yi, zi = inv[n][id(x)], inv[m][id(y)], inv[p][id(z)]
        iso_u = _masks(x.T @ mats_u @ yi.T)
        iso_v = _masks(y.T @ mats_v @ zi.T)
        # w's bits are Cᵀ (p×n): the isotropy C -> X⁻¹ C Z reads Cᵀ -> Zᵀ Cᵀ X⁻ᵀ
        iso_w = _masks(z.T @ mats_c @ xi.T)
        for src, pre in outer_maps:
            for s, iso in enumerate((iso_u, iso_v, iso_w)):
                tables[s].append(iso[pre[s]])
            sources.append(src)
    return Symmetry(tuple(np.array(t) for t in tables), np.array(sources), layout_of_fmt(fmt))  # type: ignore[arg-type]


def layout_of_fmt(fmt: tuple[int, int, int]) -> Layout:
    n, m, p = fmt
    return Layout((n * m, m * p, p * n))


# --- the explorer --------------------------------------------------------------------------------


def _hash(terms: tuple) -> str:
    return hashlib.sha256(",".join(map(str, terms)).encode()).hexdigest()[:12]


def _additions(terms: Terms, lay: Layout) -> int:
    """Naive additions: per term popcount(u) − 1 + popcount(v) − 1, per entry of C its terms − 1."""
    parts = [lay.split(t) for t in terms]
    per_term = sum(bin(u).count("1") - 1 + bin(v).count("1") - 1 for u, v, _ in parts)
    width = lay.widths[2]
    outputs = sum(max(sum((w >> i) & 1 for _, _, w in parts) - 1, 0) for i in range(width))
    return per_term + outputs


@dataclass(frozen=True)
class Space:
    """Where a walk happens: a target over a domain, its schemes as hashable terms, their moves and
    the canonical form of a node (F2: bit-packed terms and the symmetry group; F_p and ZT: scaled
    terms, up to term order and scaling)."""

    tensor: Tensor
    domain: str
    up_to: str
    group_size: int
    terms: Callable[[Scheme], tuple]
    scheme: Callable[[tuple], Scheme]
    canonical: Callable[[tuple], tuple]
    movers: dict[str, Callable[[tuple], Iterator[tuple[str, tuple]]]]
    additions: Callable[[tuple], int]

    def text(self, terms: tuple) -> str:
        """The terms as one line (F2: the term ints; else u|v|w per term, coefficients by commas)."""
        if self.domain == "F2":
            return " ".join(map(str, terms))
        return " ".join("|".join(",".join(map(str, f)) for f in t) for t in terms)


def space(tensor: Tensor, domain: str = "F2", up_to: str = "isotropy") -> Space:
    """The Space of ``tensor`` over ``domain``; ``up_to`` is ``isotropy`` (F2 only: the symmetry
    group of the target) or ``none``. SchemeError for anything else."""
    if up_to not in ("isotropy", "none"):
        raise SchemeError(f"up to {up_to!r}: use isotropy or none")
    name = str(Domain.parse(domain))
    if name == "F2":
        group = symmetry_group(tensor, up_to)
        lay = group.layout
        return Space(
            tensor,
            name,
            up_to,
            group.size,
            to_terms,
            lambda t: to_scheme(t, tensor),
            group.canonical,
            {k: (lambda t, f=f: f(t, lay)) for k, f in _MOVERS.items()},
            lambda t: _additions(t, lay),
        )
    ring = ring_of(name)
    if up_to != "none":
        raise SchemeError(f"symmetry classes are computed over F2 only; over {name} use --up-to none")
    return Space(
        tensor,
        name,
        up_to,
        1,
        lambda s: ring_terms(s, ring),
        lambda t: ring_scheme(t, tensor, ring),
        lambda t: t,  # ring terms are scaled and sorted already
        {k: (lambda t, f=f: f(t, ring)) for k, f in _RING_MOVERS.items()},
        lambda t: naive_additions(ring_scheme(t, tensor, ring)),
    )


def explore(
    scheme: Scheme,
    domain: str = "F2",
    *,
    depth: int | None = None,
    max_nodes: int = 10_000,
    up_to: str = "isotropy",
    moves: tuple[str, ...] = ("flip", "reduce"),
    ranks: tuple[int, int] | None = None,
    leaves: bool = True,
) -> nx.MultiDiGraph:
    """The flip graph around ``scheme`` over ``domain`` (F2, F_p or ZT), breadth first.

    Nodes are canonical forms (tuples of terms) with attributes rank, hash, additions, depth and
    ``scheme`` (the terms of the scheme the walk actually reached). Nodes whose rank lies in
    ``ranks`` (default: the start's rank only) are walked from; the others a move reaches are
    recorded as leaves (with ``leaves=False`` left out, which saves canonicalising them). Flip
    edges go both ways with ``move="flip"`` (a flip back into the same orbit is a self-loop); a
    reduction is an edge from the higher rank to the lower with ``move="reduce"`` (a split found
    from below is recorded as the reduction it undoes); plus transitions are edges ``move="plus"``
    upwards. Stops after ``depth`` moves or ``max_nodes`` walked nodes (the graph's ``complete``
    attribute says whether it ended by itself). ``domain`` is F2 (fast, symmetry classes), a prime
    field F_p or ZT (``up_to="none"``: schemes up to term order and scaling)."""
    unknown = set(moves) - set(MOVES)
    if unknown or not moves:
        raise SchemeError(f"moves are some of {', '.join(MOVES)}, not {','.join(moves)}")
    where = space(scheme.tensor, domain, up_to)
    start = where.terms(scheme)
    low, high = ranks if ranks is not None else (len(start), len(start))
    if not low <= len(start) <= high:
        raise SchemeError(f"the start has rank {len(start)}, outside the ranks {low}..{high} to walk")
    graph = nx.MultiDiGraph(
        target=scheme.tensor.label(),
        domain=where.domain,
        up_to=up_to,
        group_size=where.group_size,
        rank=len(start),
        ranks=(low, high),
    )
    walked = 0

    def add(canon: tuple, reached: tuple, at: int) -> bool:
        """Add a node; True when it is new and to be walked from."""
        nonlocal walked
        if canon in graph:
            return False
        inside = low <= len(canon) <= high
        graph.add_node(
            canon, rank=len(canon), hash=_hash(canon), additions=where.additions(canon), depth=at, scheme=reached
        )
        walked += inside
        return inside

    root = where.canonical(start)
    add(root, start, 0)
    queue: deque[tuple] = deque([root])
    complete = True
    while queue:
        here = queue.popleft()
        at, reached = graph.nodes[here]["depth"], graph.nodes[here]["scheme"]
        for name in moves:
            for what, after in where.movers[name](reached):
                if not leaves and not low <= len(after) <= high:
                    continue
                canon = where.canonical(after)
                if canon not in graph:
                    if (depth is not None and at >= depth) or walked >= max_nodes:
                        complete = False
                        continue
                    if add(canon, after, at + 1):
                        queue.append(canon)
                a, b, move = (canon, here, "reduce") if name == "split" else (here, canon, name)
                if not graph.has_edge(a, b, key=move):
                    graph.add_edge(a, b, key=move, move=move, how=what)
                    if move == "flip" and a != b:
                        graph.add_edge(b, a, key=move, move=move, how=what)
    graph.graph["complete"] = complete
    return graph


def move_graph(graph: nx.MultiDiGraph) -> nx.Graph:
    """Flips and reductions among the walked nodes as one undirected graph (self-loops kept):
    the form in which Kauers and Moosbauer publish flip graphs."""
    low, high = graph.graph["ranks"]
    flat = nx.Graph()
    flat.add_nodes_from(n for n, r in graph.nodes(data="rank") if low <= r <= high)
    flat.add_edges_from(
        (a, b) for a, b, move in graph.edges(data="move") if move in ("flip", "reduce") and a in flat and b in flat
    )
    return flat


def adjacency(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """One arc per walked node and distinct node that one flip or one reduction of it reaches
    (self-loops kept): the form of Kauers and Moosbauer's ``edges.txt``."""
    low, high = graph.graph["ranks"]
    arcs = nx.DiGraph()
    arcs.add_nodes_from(n for n, r in graph.nodes(data="rank") if low <= r <= high)
    arcs.add_edges_from(
        (a, b) for a, b, move in graph.edges(data="move") if move in ("flip", "reduce") and a in arcs and b in arcs
    )
    return arcs


def flip_graph(graph: nx.MultiDiGraph) -> nx.Graph:
    """The undirected graph of flips among the nodes of the start's rank (self-loops kept)."""
    rank = graph.graph["rank"]
    flat = nx.Graph()
    flat.add_nodes_from(n for n, r in graph.nodes(data="rank") if r == rank)
    flat.add_edges_from((a, b) for a, b, move in graph.edges(data="move") if move == "flip" and a in flat)
    return flat


def summary(graph: nx.MultiDiGraph) -> dict:
    """Counts and analyses: nodes, edges by move, self-loops, components, exits, degrees, diameter."""
    flat = flip_graph(graph)
    rank = graph.graph["rank"]
    exits = sorted(
        {a for a, _, move in graph.edges(data="move") if move == "reduce" and graph.nodes[a]["rank"] == rank},
        key=lambda n: graph.nodes[n]["hash"],
    )
    below = {b for _, b, move in graph.edges(data="move") if move == "reduce"}
    by_move: dict[str, int] = {}
    for a, b, move in graph.edges(data="move"):  # a flip is one edge, stored both ways round
        if move != "flip" or a == b or graph.nodes[a]["hash"] < graph.nodes[b]["hash"]:
            by_move[move] = by_move.get(move, 0) + 1
    degrees: dict[int, int] = {}
    for _, d in flat.degree():
        degrees[d] = degrees.get(d, 0) + 1
    components = nx.number_connected_components(flat) if flat.number_of_nodes() else 0
    diameter = None
    if flat.number_of_nodes() and components == 1 and flat.number_of_nodes() <= 2_000:
        diameter = nx.diameter(flat)
    return {
        "target": graph.graph["target"],
        "domain": graph.graph["domain"],
        "rank": rank,
        "up_to": graph.graph["up_to"],
        "group_size": graph.graph["group_size"],
        "complete": graph.graph["complete"],
        "nodes": flat.number_of_nodes(),
        "all_nodes": graph.number_of_nodes(),
        "flip_edges": flat.number_of_edges(),
        "self_loops": nx.number_of_selfloops(flat),
        "edges_by_move": dict(sorted(by_move.items())),
        "components": components,
        "diameter": diameter,
        "exits": [graph.nodes[n]["hash"] for n in exits],
        "nodes_below": len(below),
        "plus_edges": by_move.get("plus", 0),
        "degrees": dict(sorted(degrees.items())),
    }


def shortest_path(
    a: Scheme, b: Scheme, up_to: str = "isotropy", max_nodes: int = 100_000, domain: str = "F2"
) -> list[tuple[str, tuple]]:
    """The fewest flips from ``a`` to a scheme equivalent to ``b`` (equal to it, up to term order
    and scaling, with ``up_to="none"``): the moves and the terms of the scheme after each,
    starting with ("start", a). SchemeError when b is not reached within ``max_nodes`` schemes."""
    if a.tensor.array.shape != b.tensor.array.shape or not np.array_equal(a.tensor.array, b.tensor.array):
        raise SchemeError("the two schemes are for different targets")
    where = space(a.tensor, domain, up_to)
    start, goal = where.terms(a), where.canonical(where.terms(b))
    if len(start) != len(goal):
        raise SchemeError(f"flips keep the rank: the schemes have ranks {len(start)} and {len(goal)}")
    parent: dict[tuple, tuple[tuple | None, str, tuple]] = {where.canonical(start): (None, "start", start)}
    queue = deque([where.canonical(start)])
    while queue:
        here = queue.popleft()
        if here == goal:
            path = []
            key: tuple | None = here
            while key is not None:
                prev, what, reached = parent[key]
                path.append((what, reached))
                key = prev
            return path[::-1]
        for what, after in where.movers["flip"](parent[here][2]):
            canon = where.canonical(after)
            if canon not in parent:
                if len(parent) >= max_nodes:
                    raise SchemeError(f"no flip path found among {max_nodes} schemes (raise --max-nodes)")
                parent[canon] = (here, what, after)
                queue.append(canon)
    raise SchemeError("no flip path: the second scheme is not in the flip component of the first")
