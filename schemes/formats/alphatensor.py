"""AlphaTensor / AlphaEvolve ``.npz`` files: many schemes per file, keyed by format.

Original AlphaTensor files key ``"n,m,p"`` to (u, v, w) (an int array of shape (3, n·m, r) or a
pickled object array of three arrays); the flat files key ``"n,m,p_u"``, ``"_v"``, ``"_w"``
(AlphaEvolve: ``_U``, ``_V``, ``_W``). ``u`` is (n·m, r), ``v`` (m·p, r), ``w`` (p·n, r) with
``w[k*n+i, t]`` the coefficient in C[i][k] (C^T, as ours). Float entries such as 0.5 and 0.125
are exact dyadic rationals and are kept exact. Pickled members are read with an unpickler that
only accepts numpy arrays, so a crafted file cannot run code. Complex entries (AlphaEvolve's
<4,4,4>:48 and <3,4,7>:63 over ½Z[i]) are read exactly as Gaussian rationals and judged over Q(i).
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..coeffs import is_complex
from ..coeffs import parts as coeff_parts
from ..errors import FlipforgeError, FormatError
from ..scheme import Scheme
from ._io import build_scheme, claimed_domain
from ._safe import check_input_file, check_npz, npy_header

__all__ = ["load_npz_safely", "read_alphatensor", "write_alphatensor"]

_KEY = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(#\d+)?(?:_([uvwUVW]))?$")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(1))[0]
        if name == "scalar":
            core = getattr(np, "_core", None) or np.core
            return core.multiarray.scalar
        return getattr(np, name)


def load_npz_safely(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``; object members are unpickled allowing numpy arrays only.

    The archive is checked first (``check_npz``): declared decompressed sizes are capped and every
    member's header must fit its member, so a zip bomb or a lying header is refused unread.
    """
    check_input_file(path)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            check_npz(zf, str(path))
            for member in zf.namelist():
                if not member.endswith(".npy"):
                    continue
                with zf.open(member) as fh:
                    shape, fortran, dtype = npy_header(fh, f"{path} [{member}]")
                    if dtype.hasobject:
                        arr = _NumpyOnlyUnpickler(io.BytesIO(fh.read())).load()
                    else:
                        data = np.frombuffer(fh.read(), dtype=dtype)
                        arr = data.reshape(shape, order="F" if fortran else "C")
                out[member[:-4]] = np.asarray(arr) if not isinstance(arr, np.ndarray) else arr
    except FormatError:
        raise
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except MemoryError:
        raise FormatError(f"{path}: not a readable .npz archive (out of memory)") from None
    except Exception as exc:  # noqa: BLE001 - zip, zlib, pickle and numpy errors on hostile bytes
        why = str(exc).strip() or type(exc).__name__
        raise FormatError(f"{path}: not a readable .npz archive ({why[:200]})") from None
    return out


def _triples(arrays: dict[str, np.ndarray], path: Path) -> dict[str, tuple[tuple[int, int, int], list]]:
    groups: dict[str, tuple[tuple[int, int, int], list]] = {}
    for key, arr in arrays.items():
        m = _KEY.match(key)
        if not m:
            continue
        fmt = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        name = f"{fmt[0]},{fmt[1]},{fmt[2]}{m.group(4) or ''}"
        part = m.group(5)
        entry = groups.setdefault(name, (fmt, [None, None, None]))
        if part is None:
            items = list(arr) if arr.dtype == object or arr.ndim == 1 else [arr[0], arr[1], arr[2]]
            if len(items) != 3:
                raise FormatError(f"{path}: entry {key!r} is not a (u, v, w) triple")
            entry[1][:] = [np.asarray(x) for x in items]
        else:
            entry[1]["uvw".index(part.lower())] = arr
    return groups


def read_alphatensor(path: Path) -> list[Scheme | FormatError]:
    """All schemes in the file, in key order; an entry that cannot be used becomes a FormatError."""
    groups = _triples(load_npz_safely(path), path)
    if not groups:
        raise FormatError(f"{path}: no scheme keys like '3,3,3' or '3,3,3_u' in this .npz")
    claim = claimed_domain(path.stem)
    out: list[Scheme | FormatError] = []
    for index, (name, (fmt, parts)) in enumerate(groups.items()):
        if any(p is None for p in parts):
            out.append(FormatError(f"{path} [{name}]: u, v or w is missing"))
            continue
        try:
            out.append(
                build_scheme(fmt, parts[0].T, parts[1].T, parts[2].T, path, "alphatensor", index, claim, key=name)
            )
        except FlipforgeError as exc:
            out.append(exc if isinstance(exc, FormatError) else FormatError(f"{path} [{name}]: {exc}"))
        except Exception as exc:  # noqa: BLE001 - a malformed entry is an unreadable entry, not a crash
            out.append(FormatError(f"{path} [{name}]: cannot be read ({type(exc).__name__}: {str(exc)[:200]})"))
    return out


def _as_float_exact(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype != object:
        return arr.astype(np.int64)
    if is_complex(arr):
        split = list(zip(*map(coeff_parts, arr.flat), strict=True))
        re_part, im_part = (np.array(p, dtype=object).reshape(arr.shape) for p in split)
        return _as_float_exact(re_part, where) + 1j * _as_float_exact(im_part, where)
    vals = []
    for x in arr.flat:
        f = float(x)
        if Fraction(f) != x:
            raise FormatError(f"{where}: coefficient {x} cannot be stored exactly in an .npz (float64)")
        vals.append(f)
    return np.array(vals, dtype=np.float64).reshape(arr.shape)


def write_alphatensor(schemes: list[Scheme], path: Path) -> None:
    """Flat keys ``n,m,p_u`` etc.; a repeated format gets ``n,m,p#2_u``. Rationals as exact float64."""
    arrays: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for s in schemes:
        if s.fmt is None:
            raise FormatError(".npz (AlphaTensor) holds matrix multiplication schemes only")
        base = ",".join(map(str, s.fmt))
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base}#{seen[base]}"
        for name, arr in zip("uvw", s.factors, strict=True):
            arrays[f"{key}_{name}"] = _as_float_exact(arr, str(path)).T
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
