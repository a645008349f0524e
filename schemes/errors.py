"""The exception tree of flipforge: every error a user can cause is a FlipforgeError.

The CLI turns these into one clear line and exit code 2; anything else is a bug.
"""

from __future__ import annotations

__all__ = ["FlipforgeError", "DomainError", "SchemeError", "FormatError", "TensorError"]


class FlipforgeError(Exception):
    """Root of all errors caused by bad input (files, options, schemes)."""


class DomainError(FlipforgeError):
    """An unknown coefficient domain, or a field whose size is not prime."""


class TensorError(FlipforgeError):
    """A bad format such as ``3x0x2`` or a target tensor file that cannot be used."""


class SchemeError(FlipforgeError):
    """Factor matrices of the wrong shape or with coefficients the domain cannot hold."""


class FormatError(FlipforgeError):
    """A scheme file that cannot be read or written in the asked format."""
