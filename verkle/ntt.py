"""Number-theoretic transforms: cyclic convolutions over the evaluation domain in O(n log n)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from .field import Domain


def ntt(values: Sequence[int], omega: int, p: int) -> list[int]:
    """out[i] = sum_j values[j] * omega^(i*j) mod p (iterative radix-2, len a power of two)."""
    n = len(values)
    bits = n.bit_length() - 1
    a = [values[int(format(i, f"0{bits}b")[::-1], 2)] if bits else values[i] for i in range(n)]
    length = 2
    while length <= n:
        half = length // 2
        step = pow(omega, n // length, p)
        twiddles = [1] * half
        for k in range(1, half):
            twiddles[k] = twiddles[k - 1] * step % p
        for start in range(0, n, length):
            for k in range(half):
                i = start + k
                u, v = a[i], a[i + half] * twiddles[k] % p
                a[i], a[i + half] = (u + v) % p, (u - v) % p
        length *= 2
    return a


@lru_cache(maxsize=64)
def _spectrum(dom: Domain, kernel: str) -> tuple[int, ...]:
    p, n = dom.field.modulus, dom.size
    if kernel == "inv1":
        vec = list(dom.inv_minus_one)
    else:  # "u_rev": u[k] = w^k / (w^k - 1), stored at index -k
        vec = [0] * n
        for k in range(1, n):
            vec[-k % n] = dom.points[k] * dom.inv_minus_one[k] % p
    return tuple(ntt(vec, dom.omega, p))


def convolve(dom: Domain, values: Sequence[int], kernel: str) -> list[int]:
    """out[j] = sum_m values[m] * K[(j - m) mod n] for the domain kernel K named `kernel`."""
    p, n = dom.field.modulus, dom.size
    spectrum = _spectrum(dom, kernel)
    product = [a * b % p for a, b in zip(ntt(values, dom.omega, p), spectrum)]
    inv_n = pow(n, -1, p)
    return [x * inv_n % p for x in ntt(product, pow(dom.omega, -1, p), p)]
