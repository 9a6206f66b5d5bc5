"""One rule for roots, shared by off-chain verification, the CLI and the contract side (`calldata.xy`).

A root is the canonical encoding of a point of the prime-order group: BLS12-381 48 bytes compressed
(flags, x < q, on the curve, in the subgroup), BN254 64 bytes x || y (both < q, on the curve). The
point at infinity is the root of the empty tree (`VerkleTree` starts from the identity), so its one
canonical encoding is a root like any other; every other encoding of it is refused. The verifier
contracts revert with `InvalidRoot()` on the same roots, so the words here are theirs.
Imports neither web3 nor the EVM: the contract renderer may call it.
"""

from __future__ import annotations

from .curves import Curve, InvalidPoint
from .errors import InvalidRoot, UnknownName
from .schemes import SCHEMES


def empty_root(curve: Curve) -> bytes:
    """The empty tree's root: the identity, canonically encoded."""
    return curve.encode(curve.identity())


def check_root(scheme_name: str, root: bytes) -> bytes:
    """`root` as bytes when it is a root the scheme's verifiers accept; raise InvalidRoot otherwise."""
    try:
        curve = SCHEMES[scheme_name].curve
    except UnknownName as exc:
        raise InvalidRoot(f"invalid root: {exc}") from None
    if not isinstance(root, (bytes, bytearray)):
        raise InvalidRoot(f"invalid root: expected bytes, got {type(root).__name__}")
    root = bytes(root)
    if len(root) != curve.point_size:
        raise InvalidRoot(f"invalid root: a {scheme_name} root is {curve.point_size} bytes, got {len(root)}")
    if root == empty_root(curve):
        return root
    try:
        point = curve.decode(root)
    except InvalidPoint as exc:
        raise InvalidRoot(f"invalid root: {exc}") from None
    if curve.encode(point) != root:  # decode is strict already: this guards the rule, not a known case
        raise InvalidRoot("invalid root: not the canonical encoding of its point")
    return root
