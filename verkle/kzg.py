"""KZG commitments to vectors in evaluation form: the one interface both curves share.

A width-W vector v is the polynomial f with f(w^i) = v[i]; its commitment is sum v[i] [L_i(tau)].
Openings prove f(z) = y with pi = [(f(X) - y) / (X - z)], checked by
    e(C - y G1 + z pi, G2) == e(pi, [tau] G2).
Quotients are computed in evaluation form, so nothing here ever leaves the Lagrange basis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from .curves import Curve, Point
from .field import Domain, PrimeField, domain
from .srs import Setup

Vector = Sequence[int]


@dataclass(frozen=True)
class KZG:
    """A KZG scheme at one width: a curve and its setup; commits to vectors, opens and checks openings
    (`load_scheme` makes one)."""

    setup: Setup

    @property
    def name(self) -> str:
        return "kzg-" + self.curve.name

    @property
    def curve(self) -> Curve:
        return self.setup.curve

    @property
    def field(self) -> PrimeField:
        return self.setup.curve.field

    @property
    def width(self) -> int:
        return self.setup.width

    @cached_property
    def domain(self) -> Domain:
        return domain(self.field, self.width)

    # ------------------------------------------------------------ commitments

    def commit_sparse(self, values: Mapping[int, int]) -> Point:
        """Commit to a vector given as {index: value}; absent indices are zero."""
        items = [(i, v) for i, v in values.items() if v]
        basis = self.setup.lagrange
        return self.curve.msm([basis[i] for i, _ in items], [v for _, v in items])

    def commit(self, values: Vector) -> Point:
        return self.commit_sparse(dict(enumerate(values)))

    def add_delta(self, commitment: Point, index: int, delta: int) -> Point:
        """C + delta * L_index: the homomorphic update when one entry changes by delta."""
        delta %= self.field.modulus
        if not delta:
            return commitment
        return self.curve.add(commitment, self.curve.mul(self.setup.lagrange[index], delta))

    # ------------------------------------------------------------ quotients (evaluation form)

    def quotient_in_domain(self, values: Vector, m: int) -> list[int]:
        """(f(X) - f(w^m)) / (X - w^m) on the domain. At X = w^m it is f'(w^m), which for roots of
        unity is  -sum_{j != m} q_j w^j / w^m."""
        p, n = self.field.modulus, self.width
        dom = self.domain
        y = values[m]
        inv1 = dom.inv_minus_one
        points = dom.points
        w_minus_m = points[-m % n]
        q = [0] * n
        acc = 0
        for j in range(n):
            d = values[j] - y
            if d and j != m:
                s = d * inv1[(j - m) % n] % p * w_minus_m % p  # (f_j - y) / (w^j - w^m)
                q[j] = s
                acc += s * points[j]
        q[m] = -acc % p * w_minus_m % p
        return q

    def evaluate_outside(self, values: Vector, t: int) -> int:
        """f(t) for t outside the domain (barycentric): (t^W - 1)/W * sum v_j w^j / (t - w^j)."""
        p, n = self.field.modulus, self.width
        points = self.domain.points
        inverses = self.field.batch_inv([t - x for x in points])
        total = sum(v * x % p * inv for v, x, inv in zip(values, points, inverses) if v)
        return (pow(t, n, p) - 1) * self.field.inv(n) % p * (total % p) % p

    def quotient_outside(self, values: Vector, t: int) -> tuple[list[int], int]:
        """(f(X) - f(t)) / (X - t) on the domain, and f(t)."""
        p = self.field.modulus
        y = self.evaluate_outside(values, t)
        inverses = self.field.batch_inv([x - t for x in self.domain.points])
        return [(v - y) * inv % p for v, inv in zip(values, inverses)], y

    # ------------------------------------------------------------ openings

    def open_in_domain(self, values: Vector, index: int) -> Point:
        return self.commit(self.quotient_in_domain(values, index))

    def open_outside(self, values: Vector, t: int) -> tuple[int, Point]:
        q, y = self.quotient_outside(values, t)
        return y, self.commit(q)

    def verify_bytes(self, commitment: bytes, z: bytes, y: bytes, proof: bytes) -> bool:
        """Check an opening given as bytes, with the point-evaluation precompile's input rules:
        z and y canonical 32-byte field elements, both points valid subgroup encodings."""
        try:
            zz, yy = self.field.from_bytes(z), self.field.from_bytes(y)
            c, pi = self.curve.decode(commitment), self.curve.decode(proof)
        except ValueError:
            return False
        return self.verify(c, zz, yy, pi)

    def verify(self, commitment: Point, z: int, y: int, proof: Point) -> bool:
        """The pairing check e(C - y G1 + z pi, G2) * e(-pi, [tau]G2) == 1."""
        c = self.curve
        lhs = c.add(c.sub(commitment, c.mul(c.generator(), y)), c.mul(proof, z))
        return c.pairing_check([(lhs, c.g2_generator()), (c.neg(proof), self.setup.g2_tau)])
