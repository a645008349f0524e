"""Shared helpers of the format modules: reading text, dimension inference, building schemes."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..coeffs import to_fraction
from ..domain import Domain
from ..errors import FlipforgeError, FormatError
from ..scheme import Scheme
from ..tensor import Tensor, matmul_tensor

__all__ = [
    "read_text",
    "dims_from_sizes",
    "build_scheme",
    "apply_claim",
    "parse_number",
    "claimed_domain",
    "head_text",
]


def read_text(path: Path) -> str:
    """The file's text (UTF-8, CRLF folded), or a FormatError naming the file and why."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not a text file") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def head_text(path: Path, size: int = 4096) -> str:
    """The first bytes of a file as text ('' when unreadable or binary): for sniffing only."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(size)
    except OSError:
        return ""
    if b"\0" in raw:
        return ""
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


def parse_number(token: str) -> int | object:
    """An integer or a/b token as an exact number."""
    try:
        return int(token)
    except ValueError:
        return to_fraction(token)


def dims_from_sizes(nm: int, mp: int, pn: int, where: str) -> tuple[int, int, int]:
    """(n, m, p) from the three factor widths n·m, m·p, p·n (they determine it uniquely)."""
    n2, rem = divmod(nm * pn, mp) if mp else (0, 1)
    n = math.isqrt(n2) if n2 > 0 else 0
    if rem or n < 1 or n * n != n2 or nm % n or pn % n:
        raise FormatError(f"{where}: factor sizes {nm}, {mp}, {pn} are not n·m, m·p, p·n of any format")
    return n, nm // n, pn // n


_FIELD_TOKENS = {"mod2": "F2", "f2": "F2", "gf2": "F2", "z2": "F2", "mod3": "F3", "f3": "F3", "gf3": "F3"}
_RING_TOKENS = {"mod0": "Z", "zt": "ZT", "z": "Z", "q": "Q", "qi": "QI"}
_VARIANT = re.compile(r"(mod[023])[a-z]")  # 555-97-mod0a: a second scheme with the same claim


def claimed_domain(name: str | Path) -> Domain | None:
    """The domain a file name states in a token of its own (tokens are split at ``-``, ``_``, ``.``
    and spaces, case ignored), or None when it states none or contradicts itself.

    ``mod2``/``f2``/``gf2``/``z2`` claim F2 and ``mod3``/``f3``/``gf3`` F3; ``mod0`` claims Z
    (the Kauers–Moosbauer convention: integer coefficients, valid over every ring), also as
    ``mod0a``; ``zt`` claims ZT, ``z`` Z and ``q`` Q (Perminov's ``_ZT``/``_Z``/``_Q``,
    flip-cpd's ``-z``/``-q``).
    """
    claims = set()
    for raw in re.split(r"[-_.\s]+", Path(name).name.lower()):
        token = _VARIANT.sub(r"\1", raw) if _VARIANT.fullmatch(raw) else raw
        found = _FIELD_TOKENS.get(token) or _RING_TOKENS.get(token)
        if found:
            claims.add(found)
    return Domain.parse(claims.pop()) if len(claims) == 1 else None


def apply_claim(scheme: Scheme, claim: Domain | None) -> Scheme:
    """``scheme`` claiming ``claim``; a claim its coefficients cannot hold (1/2 claimed over Z) is
    kept as ``meta["claimed_domain"]`` so that verification reports it, never dropped silently."""
    if claim is None:
        return scheme
    if scheme.domain_problem(claim) is None:
        return scheme.with_domain(claim)
    return scheme.with_meta(claimed_domain=str(claim))


def build_scheme(
    fmt: tuple[int, int, int] | Tensor,
    u: Any,
    v: Any,
    w: Any,
    path: Path,
    fmt_name: str,
    index: int = 0,
    domain: Domain | None = None,
    **meta: Any,
) -> Scheme:
    """A Scheme from factor rows in the cyclic convention, with provenance; errors name the file.

    ``domain`` is the claim of the source (default: what the file name claims), applied by
    ``apply_claim``.
    """
    claim = domain if domain is not None else claimed_domain(path)
    try:
        tensor = fmt if isinstance(fmt, Tensor) else matmul_tensor(fmt)
        s = Scheme.from_arrays(
            tensor, u, v, w, None, {"source": str(path), "index": index, "read_as": fmt_name, **meta}
        )
        return apply_claim(s, claim)
    except FlipforgeError as exc:
        raise FormatError(f"{path}: {exc}") from None


def dense(rows: int, cols: int) -> np.ndarray:
    """An object array of zeros to fill with exact coefficients."""
    out = np.empty((rows, cols), dtype=object)
    out.fill(0)
    return out
