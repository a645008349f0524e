"""Schemes: formats and target tensors, the exact Scheme object, metrics, readers and writers."""

from .domain import Domain
from .errors import DomainError, FlipforgeError, FormatError, SchemeError, TensorError
from .metrics import Metrics, coefficient_class, metrics, naive_additions
from .scheme import BUILTIN_PREFIX, Scheme, builtin_scheme
from .tensor import Tensor, format_name, load_tensor, matmul_tensor, parse_format, parse_target

__all__ = [
    "Domain",
    "DomainError",
    "FlipforgeError",
    "FormatError",
    "Metrics",
    "Scheme",
    "BUILTIN_PREFIX",
    "builtin_scheme",
    "SchemeError",
    "Tensor",
    "TensorError",
    "coefficient_class",
    "format_name",
    "load_tensor",
    "matmul_tensor",
    "metrics",
    "naive_additions",
    "parse_format",
    "parse_target",
]

from .formats import (  # noqa: E402
    FORMATS,
    detect_format,
    iter_scheme_files,
    native_text,
    read_entries,
    read_schemes,
    write_schemes,
)

__all__ += [
    "FORMATS",
    "detect_format",
    "iter_scheme_files",
    "native_text",
    "read_entries",
    "read_schemes",
    "write_schemes",
]
