"""Exact verification of schemes over F2/F3/Fp/ZT/Z/Q."""

from .brent import (
    CHECK_DOMAINS,
    FIELDS,
    VerifyResult,
    auto_domain,
    is_claimed,
    product_tensor,
    valid_over,
    verify,
    verify_where_valid,
)

__all__ = [
    "CHECK_DOMAINS",
    "FIELDS",
    "VerifyResult",
    "auto_domain",
    "is_claimed",
    "product_tensor",
    "valid_over",
    "verify",
    "verify_where_valid",
]
