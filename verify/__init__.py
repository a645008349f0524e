"""Exact verification of schemes over F2/F3/Fp/ZT/Z/Q."""

from .brent import CHECK_DOMAINS, VerifyResult, infer_domain, product_tensor, residues, valid_over, verify

__all__ = ["CHECK_DOMAINS", "VerifyResult", "infer_domain", "product_tensor", "residues", "valid_over", "verify"]
