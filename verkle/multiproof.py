"""Many KZG openings, one proof: Dankrad Feist's "PCS multiproofs using random evaluation".

Openings (C_i, z_i = w^(m_i), y_i). With r and t drawn from the transcript:
    g(X) = sum r^i (f_i(X) - y_i) / (X - z_i)          D = [g]
    h(X) = sum r^i f_i(X) / (t - z_i)                  E = sum r^i / (t - z_i) C_i   (verifier: one MSM)
    h(t) - g(t) = sum r^i y_i / (t - z_i) =: y         pi opens E - D at t to y.
Two group elements prove any number of openings; the verifier's work is one MSM over the distinct
commitments and one pairing check (or one 0x0a call on [E - D]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .curves import Point
from .kzg import KZG
from .ntt import convolve as ntt_convolve
from .paths import NodeId, Opening
from .proof import InvalidProof
from .schemes import SCHEMES
from .slots import node_field
from .transcript import Transcript

DOMAIN_LABEL = b"verkle-multiproof-v1"


@dataclass(frozen=True)
class Claim:
    key: bytes
    value_hash: bytes | None  # None: the key is claimed absent


def transcript_for(
    scheme: KZG, root: bytes, claims: Sequence[Claim], path_bytes: bytes, listed: Sequence[bytes]
) -> Transcript:
    """Absorb, in order: scheme and width, the root, each claim with its key, the proof's per-key
    path bytes, and H(0x00 || C) of each commitment the proof lists. Every opening (C_i, z_i, y_i)
    is a function of these, so they bind all of them; the hashes are what a verifier computes
    anyway, and a Solidity verifier holding uncompressed points need not re-encode them."""
    tr = Transcript(scheme.field, DOMAIN_LABEL)
    tr.absorb(bytes([SCHEMES[scheme.name].proof_id, scheme.width.bit_length() - 1]))
    tr.absorb(root)
    tr.absorb_u16(len(claims))
    for c in claims:
        # present: 0x01 || key || keccak(value), the very preimage of the leaf's slot value
        tr.absorb(b"\x01" + c.key + c.value_hash if c.value_hash is not None else b"\x00" + c.key + bytes(32))
    tr.absorb(path_bytes)
    for commitment in listed:
        tr.absorb_scalar(node_field(scheme.field, commitment))
    return tr


def _powers(r: int, count: int, p: int) -> list[int]:
    powers = [1] * count
    for i in range(1, count):
        powers[i] = powers[i - 1] * r % p
    return powers


def _weights(scheme: KZG, openings: Sequence[Opening], r: int, t: int) -> list[int]:
    """r^i / (t - z_i) for every opening (one batched inversion)."""
    p = scheme.field.modulus
    points = scheme.domain.points
    inverses = scheme.field.batch_inv([t - points[o.index] for o in openings])
    return [a * b % p for a, b in zip(_powers(r, len(openings), p), inverses)]


def _challenge_t(scheme: KZG, tr: Transcript, d: bytes) -> int:
    tr.absorb(d)
    t = tr.challenge()
    if pow(t, scheme.width, scheme.field.modulus) == 1:  # t in the domain: probability W/p
        raise InvalidProof("evaluation point t fell inside the domain")
    return t


def aggregate_quotients(
    scheme: KZG, openings: Sequence[Opening], vectors: Mapping[NodeId, Sequence[int]], coefs: Sequence[int]
) -> list[int]:
    """g = sum_i coef_i (f_i(X) - y_i) / (X - w^m_i) in evaluation form, node by node.

    With inv1[k] = 1/(w^k - 1) and u[k] = w^k inv1[k] (both 0 at k = 0), for j != m
        (f_j - y) / (w^j - w^m) = w^-m inv1[j - m] (f_j - y)
    and at j = m the quotient is -w^-m (sum_{j != m} u[j - m] f_j - y * sum_k u[k]).
    The f_j terms touch only a node's non-zero slots, directly when the node has few openings and
    few children, by NTT convolution otherwise; the y terms of all openings share one convolution.
    """
    p, n = scheme.field.modulus, scheme.width
    dom = scheme.domain
    pts, inv1 = dom.points, dom.inv_minus_one
    u = [pts[k] * inv1[k] % p for k in range(n)]
    s0 = sum(u) % p
    ntt_cost = n * (n.bit_length() - 1)
    g = [0] * n
    by_node: dict[NodeId, list[tuple[int, int, int]]] = {}
    y_terms = [0] * n  # a_m = sum over openings at m of coef * y * w^-m
    for o, c in zip(openings, coefs):
        by_node.setdefault(o.node, []).append((o.index, c, o.y))
        y_terms[o.index] += c * o.y % p * pts[-o.index % n]
    for node, opened in by_node.items():
        f = vectors[node]
        support = [j for j in range(n) if f[j]]
        if len(opened) * len(support) <= ntt_cost:
            for m, c, y in opened:
                scale = c * pts[-m % n] % p
                r = 0
                for j in support:
                    if j != m:
                        k = (j - m) % n
                        g[j] += f[j] * scale % p * inv1[k]
                        r += u[k] * f[j]
                g[m] -= scale * ((r - y * s0) % p)
        else:
            alpha = [0] * n
            for m, c, _ in opened:
                alpha[m] += c * pts[-m % n] % p
            alpha = [a % p for a in alpha]
            a = ntt_convolve(dom, alpha, "inv1")
            for j in support:
                g[j] += f[j] * a[j]
            r_all = ntt_convolve(dom, f, "u_rev")
            for m, c, y in opened:
                g[m] -= c * pts[-m % n] % p * ((r_all[m] - y * s0) % p)
    distinct = sum(1 for a in y_terms if a)
    if distinct * n <= 2 * ntt_cost:
        for m, a in enumerate(y_terms):
            if a:
                a %= p
                for j in range(n):
                    if j != m:
                        g[j] -= a * inv1[(j - m) % n]
    else:
        for j, t in enumerate(ntt_convolve(dom, [a % p for a in y_terms], "inv1")):
            g[j] -= t
    return [x % p for x in g]


def prove(
    scheme: KZG, tr: Transcript, openings: Sequence[Opening], vectors: Mapping[NodeId, Sequence[int]]
) -> tuple[bytes, bytes]:
    """(D, pi) for the openings; `vectors` gives each node's values in evaluation form."""
    p, n = scheme.field.modulus, scheme.width
    r = tr.challenge()
    powers = _powers(r, len(openings), p)
    g = aggregate_quotients(scheme, openings, vectors, powers)
    d_point = scheme.commit(g)
    d = scheme.curve.encode(d_point)
    t = _challenge_t(scheme, tr, d)
    weights = _weights(scheme, openings, r, t)
    per_node: dict[NodeId, int] = {}
    for o, w in zip(openings, weights):
        per_node[o.node] = (per_node.get(o.node, 0) + w) % p
    h = [0] * n
    for node, w in per_node.items():
        for j, v in enumerate(vectors[node]):
            if v:
                h[j] += w * v
    diff = [(a - b) % p for a, b in zip(h, g)]
    _, pi = scheme.open_outside(diff, t)
    return d, scheme.curve.encode(pi)


def verify(
    scheme: KZG,
    tr: Transcript,
    openings: Sequence[Opening],
    points: Mapping[NodeId, Point],
    d: bytes,
    pi: bytes,
) -> None:
    """Raise InvalidProof unless (D, pi) proves every opening."""
    pi_point = _decode(scheme, pi, "pi")
    diff, t, y = final_check_inputs(scheme, tr, openings, points, d)
    if not scheme.verify(diff, t, y, pi_point):
        raise InvalidProof("the multiproof's pairing check fails")


def final_check_inputs(
    scheme: KZG, tr: Transcript, openings: Sequence[Opening], points: Mapping[NodeId, Point], d: bytes
) -> tuple[Point, int, int]:
    """(E - D, t, y): the single KZG opening a multiproof reduces to (what 0x0a can check)."""
    p = scheme.field.modulus
    d_point = _decode(scheme, d, "D")
    r = tr.challenge()
    t = _challenge_t(scheme, tr, d)
    weights = _weights(scheme, openings, r, t)
    per_node: dict[NodeId, int] = {}
    for o, w in zip(openings, weights):
        per_node[o.node] = (per_node.get(o.node, 0) + w) % p
    y = sum(w * o.y for o, w in zip(openings, weights)) % p
    nodes = list(per_node)
    e = scheme.curve.msm([points[nd] for nd in nodes], [per_node[nd] for nd in nodes])
    return scheme.curve.sub(e, d_point), t, y


def _decode(scheme: KZG, data: bytes, what: str) -> Point:
    try:
        return scheme.curve.decode(data)
    except ValueError as exc:
        raise InvalidProof(f"{what}: {exc}") from None
