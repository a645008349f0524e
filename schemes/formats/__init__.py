"""Readers and writers of every published scheme format, found by extension and content.

``FORMATS`` maps a format name to its reader, writer, extensions and content sniffer; a new
format is one module plus one entry here. ``read_entries`` auto-detects (``fmt=`` forces).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..domain import Domain
from ..errors import FlipforgeError, FormatError
from ..scheme import Scheme
from ..targets import parse_target
from ..tensor import Tensor
from ._io import claimed_domain, head_text
from ._safe import check_input_file
from .alphatensor import read_alphatensor, write_alphatensor
from .benson import looks_like_benson, read_benson, write_benson
from .catalogue import read_catalogue
from .dps import is_primary_sms, read_dps
from .flipcpd import looks_like_flipcpd_txt, read_flipcpd_npy, read_flipcpd_txt
from .kauers import read_exp, read_maple, write_exp, write_maple
from .native import is_native, native_text, read_native, write_native
from .perminov import (
    looks_like_perminov_text,
    read_perminov_json,
    read_perminov_txt,
    write_perminov_json,
    write_perminov_txt,
)

__all__ = [
    "FORMATS",
    "as_target",
    "SchemeFormat",
    "detect_format",
    "output_format",
    "lost_claim",
    "get_format",
    "iter_scheme_files",
    "native_text",
    "read_entries",
    "read_schemes",
    "write_schemes",
]

Entry = Scheme | FormatError


@dataclass(frozen=True)
class SchemeFormat:
    name: str
    description: str
    extensions: tuple[str, ...]
    reader: Callable[[Path], list] | None
    writer: Callable[[list[Scheme], Path], None] | None
    sniff: Callable[[str], bool]
    many: bool = False  # the writer holds several schemes in one file
    takes_target: bool = False  # the reader needs the target (``--target``) to place coefficients


def _json_key(pattern: str) -> Callable[[str], bool]:
    rx = re.compile(pattern)
    return lambda head: rx.search(head) is not None


def _looks_like_exp(head: str) -> bool:
    lines = [ln for ln in head.split("\n") if ln.strip()]
    return bool(lines) and re.search(r"a\d+.*b\d+.*c\d+", lines[0]) is not None and "=" not in lines[0]


FORMATS: dict[str, SchemeFormat] = {
    f.name: f
    for f in (
        SchemeFormat(
            "native",
            "flipforge JSON, one scheme per file",
            (".json",),
            read_native,
            write_native,
            lambda head: _json_key(r'"(?:format|shape)"\s*:\s*\[|"tensor"\s*:\s*"')(head) and '"u"' in head,
        ),
        SchemeFormat(
            "perminov-json",
            "Perminov JSON, full or reduced (fresh variables)",
            (".json",),
            read_perminov_json,
            write_perminov_json,
            _json_key(r'^\s*\{\s*"n"\s*:\s*\['),
        ),
        SchemeFormat(
            "perminov-txt",
            "Perminov text: 'n1 n2 n3 rank' then U, V, W rows",
            (".txt",),
            read_perminov_txt,
            write_perminov_txt,
            looks_like_perminov_text,
        ),
        SchemeFormat(
            "exp",
            "Kauers/Moosbauer .exp: one product of linear forms per line",
            (".exp", ".txt"),
            read_exp,
            write_exp,
            _looks_like_exp,
        ),
        SchemeFormat(
            "maple",
            "Kauers/Moosbauer/Arai Maple .m nested lists",
            (".m",),
            read_maple,
            write_maple,
            lambda head: head.lstrip().startswith("{"),
        ),
        SchemeFormat(
            "catalogue",
            "FMM catalogue tensor.mpl (Maple TriadSet)",
            (".mpl",),
            read_catalogue,
            None,
            lambda head: "TriadSet" in head or "Matrix(" in head,
        ),
        SchemeFormat(
            "benson",
            "Benson-Ballard fast-matmul blocks (W indexes C)",
            ("", ".txt"),
            read_benson,
            write_benson,
            looks_like_benson,
        ),
        SchemeFormat(
            "sms", "Dumas-Pernet-Sedoglavic NAME_L/_R/_P.sms triples", (".sms",), read_dps, None, lambda head: True
        ),
        SchemeFormat(
            "flipcpd-npy",
            "flip-cpd .npy (numerator, denominator pairs)",
            (".npy",),
            read_flipcpd_npy,
            None,
            lambda head: True,
            takes_target=True,
        ),
        SchemeFormat(
            "flipcpd-txt",
            "flip-cpd text: 'mN = (..)(..)' and 'cN = ...'",
            (".txt",),
            read_flipcpd_txt,
            None,
            looks_like_flipcpd_txt,
            takes_target=True,
        ),
        SchemeFormat(
            "alphatensor",
            "AlphaTensor/AlphaEvolve .npz (many schemes)",
            (".npz",),
            read_alphatensor,
            write_alphatensor,
            lambda head: True,
            many=True,
        ),
    )
}

_BINARY = {".npy", ".npz"}
_NOT_SCHEMES = {".md", ".csv", ".pdf", ".png", ".py", ".db"}


def get_format(name: str) -> SchemeFormat:
    """The format called ``name`` (also accepted: an extension such as ``exp`` or ``.npz``)."""
    key = name.strip().lower()
    if key in FORMATS:
        return FORMATS[key]
    aliases = {
        "json": "native",
        "m": "maple",
        "mpl": "catalogue",
        "npz": "alphatensor",
        "npy": "flipcpd-npy",
        "perminov": "perminov-json",
        "txt": "benson",
        "flipcpd": "flipcpd-txt",
    }
    if key.lstrip(".") in aliases:
        return FORMATS[aliases[key.lstrip(".")]]
    raise FormatError(f"unknown scheme format {name!r}; known: {', '.join(FORMATS)}")


def detect_format(path: Path) -> SchemeFormat | None:
    """The format of a file by its extension, then its first bytes; None when it is not a scheme."""
    ext = path.suffix.lower()
    if ext in _NOT_SCHEMES or path.name.startswith("."):
        return None
    candidates = [f for f in FORMATS.values() if ext in f.extensions] or (
        []
        if ext in (".json", ".npz", ".npy")
        else [f for f in FORMATS.values() if "" in f.extensions or ".txt" in f.extensions]
    )
    if not candidates:
        return None
    if ext in _BINARY:
        return candidates[0]
    head = head_text(path)
    if not head:
        return None
    for f in candidates:
        if f.sniff(head):
            return f
    if ext == ".json":
        return _json_by_keys(path)
    return None


_JSON_SNIFF_LIMIT = 64 << 20  # bytes: a JSON file whose keys are not in its head is parsed whole up to this


def _json_by_keys(path: Path) -> SchemeFormat | None:
    """A .json file whose first bytes did not tell (``"format"`` after long ``u``/``v``/``w``):
    parsed whole, native when it has format (or shape) and u, v, w, Perminov's with n, u, v, w."""
    try:
        if path.stat().st_size > _JSON_SNIFF_LIMIT:
            return None
        obj = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError, MemoryError):
        return None
    if is_native(obj):
        return FORMATS["native"]
    if isinstance(obj, dict) and all(k in obj for k in ("n", "u", "v", "w")):
        return FORMATS["perminov-json"]
    return None


def read_entries(path: str | Path, fmt: str | None = None, target: str | Tensor | None = None) -> list[Entry]:
    """Every scheme in a file; entries that cannot be used come back as FormatErrors.

    ``target`` (a name such as ``ug-444``) says what the file holds where the file cannot: flip-cpd
    files are read as that target; a scheme of any other format must already be of that target.

    A file that cannot be read at all raises FormatError naming the file and why: missing,
    a folder, not a regular file (a FIFO or device is never opened), unreadable, too large, or
    any error of its reader (a reader failing on hostile bytes never escapes as another error).
    """
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise FormatError(f"{p}: no such file")
    check_input_file(p)
    spec = get_format(fmt) if fmt else detect_format(p)
    if spec is None or spec.reader is None:
        why = "unknown format" if spec is None else f"format {spec.name} cannot be read"
        raise FormatError(f"{p}: {why}; name it with --from ({', '.join(FORMATS)})")
    tensor = parse_target(target) if isinstance(target, str) else target
    if tensor is not None and tensor.kind == "file":
        raise FormatError(f"--target {target}: name a target (3x3x3, ug-444, pm-22), not a tensor file")
    try:
        entries = list(spec.reader(p, tensor) if spec.takes_target else spec.reader(p))
        return entries if tensor is None or spec.takes_target else [as_target(e, tensor, p) for e in entries]
    except FormatError:
        raise
    except FlipforgeError as exc:
        raise FormatError(str(exc) if str(p) in str(exc) else f"{p}: {exc}") from None
    except MemoryError:
        raise FormatError(f"{p}: cannot be read as {spec.name} (out of memory)") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure on bad bytes is bad input, named
        why = str(exc).strip()
        why = why if len(why) <= 200 else why[:200] + "..."
        raise FormatError(f"{p}: cannot be read as {spec.name} ({type(exc).__name__}: {why})") from None


def as_target(entry: Entry, tensor: Tensor, path: str | Path) -> Entry:
    """The entry, or a FormatError when it is a scheme of another target than ``--target`` names."""
    if isinstance(entry, Scheme) and entry.tensor != tensor:
        return FormatError(f"{path}: holds a {entry.tensor.label()} scheme, not {tensor.label()} (--target)")
    return entry


def read_schemes(path: str | Path, fmt: str | None = None, target: str | Tensor | None = None) -> list[Scheme]:
    """Every scheme in a file; the first unusable entry raises FormatError."""
    out = []
    for entry in read_entries(path, fmt, target):
        if isinstance(entry, FormatError):
            raise entry
        out.append(entry)
    return out


def _walk(root: Path) -> Iterator[Path]:
    """Every non-hidden entry below ``root`` that is not a folder, and every folder that cannot be
    listed; symbolic links to folders are followed once (a loop is not walked twice)."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            yield folder  # read_entries names it: cannot read this folder (why)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(Path(entry.path))
            else:
                yield Path(entry.path)


def _is_candidate(path: Path) -> bool:
    """Whether a file found in a folder is a scheme to read; files that cannot be read (no
    permission, a FIFO, a device, a dangling link) are kept when their name could be a scheme, so
    that readers report them instead of skipping them silently."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True
    if stat.S_ISDIR(mode):
        return True  # only folders that could not be listed come here
    if path.suffix.lower() in _NOT_SCHEMES:
        return False
    if not stat.S_ISREG(mode):
        return True
    try:
        with path.open("rb"):
            pass
    except OSError:
        return True
    spec = detect_format(path)
    return spec is not None and not (spec.name == "sms" and not is_primary_sms(path))


def iter_scheme_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given, and inside folders every file that looks like a scheme (sorted, recursive).

    Hidden files and folders are skipped; a folder that cannot be listed, and a file that cannot
    be read or is not a regular file, are yielded so that ``read_entries`` names the problem.
    """
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            yield p
            continue
        yield from sorted(child for child in _walk(p) if _is_candidate(child))


def output_format(path: str | Path, fmt: str | None = None) -> SchemeFormat:
    """The writable format ``fmt`` names, else the one OUT's extension names (FormatError if none)."""
    p = Path(path)
    spec = get_format(fmt) if fmt else None
    if spec is None:
        ext = p.suffix.lower()
        matches = [f for f in FORMATS.values() if f.writer and ext in f.extensions and ext]
        if not matches:
            raise FormatError(f"{p}: cannot tell the output format from the extension; use --to")
        spec = matches[0]
    if spec.writer is None:
        raise FormatError(
            f"format {spec.name} is read-only; writable: " + ", ".join(name for name, f in FORMATS.items() if f.writer)
        )
    return spec


_CLAIM_TOKENS = {2: "mod2", 3: "mod3"}
_COMPLEX_WRITERS = ("native", "alphatensor")  # the formats that can hold Gaussian rationals


def lost_claim(spec: SchemeFormat, scheme: Scheme, name: str | Path) -> Domain | None:
    """The finite field ``scheme`` claims that a file ``name`` in format ``spec`` would not record
    (the format has no domain field and the name claims no such field), else None."""
    dom = scheme.domain
    if dom is None or dom.p is None:
        return None
    if spec.name == "native" or (spec.name == "perminov-json" and dom.p == 2):
        return None
    return None if claimed_domain(Path(name).name) == dom else dom


def claim_token(domain: Domain) -> str | None:
    """The file-name token that claims ``domain`` (``mod2``, ``mod3``), or None when there is none."""
    return _CLAIM_TOKENS.get(domain.p or 0)


def write_schemes(schemes: list[Scheme], path: str | Path, fmt: str | None = None) -> list[Path]:
    """Write schemes: one file, or for single-scheme formats and several schemes, one file each
    in the folder ``path`` (``<stem>-<index><ext>``, plus ``-mod2``/``-mod3`` when a scheme claims
    that field and the format cannot record it). Returns the files written."""
    p = Path(path)
    spec = output_format(p, fmt)
    if not schemes:
        raise FormatError("no schemes to write")
    if spec.name not in _COMPLEX_WRITERS and any(s.is_complex for s in schemes):
        raise FormatError(f"format {spec.name} cannot hold complex coefficients; write native JSON or .npz")
    ext = next((s.domain for s in schemes if s.domain is not None and s.domain.is_extension), None)
    if ext is not None and spec.name != "native":
        raise FormatError(
            f"format {spec.name} cannot say that coefficients are element indices of {ext}; write native JSON"
        )
    try:
        if len(schemes) == 1 or spec.many:
            p.parent.mkdir(parents=True, exist_ok=True)
            spec.writer(schemes, p)  # type: ignore[misc]
            return [p]
        p.mkdir(parents=True, exist_ok=True)
        ext = spec.extensions[0]
        out = []
        for i, s in enumerate(schemes):
            target = p / f"{p.name}-{i}{ext}"
            lost = lost_claim(spec, s, target)
            token = claim_token(lost) if lost is not None else None
            if token is not None:
                target = p / f"{p.name}-{i}-{token}{ext}"
            spec.writer([s], target)  # type: ignore[misc]
            out.append(target)
        return out
    except OSError as exc:
        raise FormatError(f"{p}: cannot write ({exc.strerror or exc})") from None
