"""flipforge's native JSON: one scheme per file, read by other tools too.

    {"format": [n, m, p], "tensor": "matmul", "domain": "Z", "rank": r,
     "u": [[...]], "v": [[...]], "w": [[...]], "meta": {...}}

``domain`` is where the file claims the scheme holds (``auto`` or absent: no claim). A claim its
coefficients cannot hold (``"Z"`` with a 1/2) is kept in ``meta["claimed_domain"]`` and reported
by verification as invalid there.

``u`` rows have n·m coefficients (A row-major), ``v`` rows m·p (B row-major), ``w`` rows p·n with
``w[t][k*n+i]`` the coefficient of term t in C[i][k] (C^T, the cyclic convention). Coefficients
are JSON integers or strings "a/b". A structured or polynomial target is named alone
(``"tensor": "ug-444"``, its layout in ``targets/``); any other tensor is stored inline as
``"shape"`` and ``"entries"`` ([i, j, k, value] for each nonzero).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..coeffs import coeff_rows
from ..domain import Domain
from ..errors import FlipforgeError, FormatError
from ..metrics import coefficient_class
from ..scheme import Scheme
from ..tensor import Tensor, matmul_tensor, parse_format, parse_target
from ._io import apply_claim, claimed_domain, read_text

__all__ = ["from_native_dict", "to_native_dict", "native_text", "read_native", "write_native", "is_native"]


def is_native(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and "u" in obj
        and "v" in obj
        and "w" in obj
        and ("format" in obj or "shape" in obj or isinstance(obj.get("tensor"), str))
    )


def _named_target(name: object) -> Tensor:
    """The target a file names (``ug-444``); never a path, so a scheme file cannot make us read another file."""
    if not isinstance(name, str) or name.endswith(".npy") or name.startswith("file:"):
        raise FormatError(f'"tensor" must name a target such as ug-444 or pm-22, not {json.dumps(name)[:40]}')
    return parse_target(name)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def from_native_dict(obj: dict[str, Any], where: str, index: int = 0, name_claim: Domain | None = None) -> Scheme:
    """A Scheme from the parsed native JSON object; every problem names ``where``. ``name_claim``
    (what the file name claims) applies when the JSON states no domain (absent or "auto")."""
    if not is_native(obj):
        raise FormatError(f"{where}: not a flipforge scheme (needs format, u, v, w)")
    if "rank" in obj and not _is_int(obj["rank"]):
        raise FormatError(f'{where}: "rank" must be an integer, not {json.dumps(obj["rank"], default=str)[:40]}')
    try:
        kind = obj.get("tensor", "matmul")
        if kind == "matmul" and "format" in obj:
            tensor = matmul_tensor(parse_format(obj["format"]))
        elif "shape" not in obj:
            tensor = _named_target(kind)
        else:
            raw_shape = obj["shape"]
            if not isinstance(raw_shape, list) or not all(_is_int(x) and x >= 0 for x in raw_shape):
                raise FormatError('"shape" must be a list of non-negative integers')
            shape = tuple(raw_shape)
            arr = np.zeros(shape, dtype=np.int64)
            for entry in obj.get("entries", []):
                i, j, k, val = entry
                if not all(_is_int(x) for x in (i, j, k, val)):
                    raise FormatError(f"tensor entry {entry!r} must be four integers")
                if not all(0 <= x < n for x, n in zip((i, j, k), shape, strict=True)):
                    raise FormatError(f"tensor entry {entry!r} has an index outside the shape {list(shape)}")
                arr[i, j, k] = val
            arr.setflags(write=False)
            tensor = Tensor(str(kind), arr, None)
        domain = Domain.parse(obj["domain"], extension=True) if obj.get("domain") not in (None, "auto") else name_claim
        meta = dict(obj.get("meta") or {})
        meta.update(source=where, index=index, read_as="native")
        scheme = apply_claim(Scheme.from_arrays(tensor, obj["u"], obj["v"], obj["w"], None, meta), domain)
    except FlipforgeError as exc:
        raise FormatError(f"{where}: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise FormatError(f"{where}: malformed scheme ({exc})") from None
    if "rank" in obj and obj["rank"] != scheme.rank:
        raise FormatError(f"{where}: says rank {obj['rank']} but has {scheme.rank} terms")
    return scheme


def to_native_dict(scheme: Scheme) -> dict[str, Any]:
    """The native JSON object, fields in a stable order (diff-friendly)."""
    out: dict[str, Any] = {}
    if scheme.fmt is not None:
        out["format"] = list(scheme.fmt)
        out["tensor"] = "matmul"
    elif scheme.tensor.is_named:
        out["tensor"] = scheme.tensor.name
    else:
        out["tensor"] = scheme.tensor.name
        out["shape"] = list(scheme.tensor.shape)
        nz = np.argwhere(scheme.tensor.array != 0)
        out["entries"] = [[int(i), int(j), int(k), int(scheme.tensor.array[i, j, k])] for i, j, k in nz]
    out["domain"] = str(scheme.domain) if scheme.domain is not None else coefficient_class(scheme).replace("ZT", "Z")
    out["rank"] = scheme.rank
    for name, arr in zip("uvw", scheme.factors, strict=True):
        out[name] = coeff_rows(arr)
    meta = {k: v for k, v in scheme.meta.items() if k not in ("index", "read_as")}
    if meta:
        out["meta"] = meta
    return out


def _dumps(obj: dict[str, Any]) -> str:
    """JSON with one factor row per line: readable and diff-friendly."""
    lines = ["{"]
    keys = list(obj)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        val = obj[key]
        if key in ("u", "v", "w", "entries"):
            rows = ",\n    ".join(json.dumps(r, separators=(", ", ": ")) for r in val)
            lines.append(f'  "{key}": [\n    {rows}\n  ]{comma}')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(val, default=str)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def read_native(path: Path) -> list[Scheme]:
    try:
        obj = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    return [from_native_dict(obj, str(path), name_claim=claimed_domain(path.name))]


def native_text(scheme: Scheme) -> str:
    """The native JSON file contents of one scheme."""
    return _dumps(to_native_dict(scheme))


def write_native(schemes: list[Scheme], path: Path) -> None:
    path.write_text(native_text(schemes[0]))
