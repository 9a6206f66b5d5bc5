"""Fields, curves, setups and KZG openings, checked against independent implementations."""

from __future__ import annotations

import random

import ckzg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point
from py_ecc import optimized_bn128 as bn

from verkle.curves import BLS12_381, BN254, InvalidPoint
from verkle.field import BLS12_381_FR, BN254_FR
from verkle.kzg import KZG
from verkle.schemes import load_scheme
from verkle.srs import SetupError, ceremony_file, ceremony_setup, insecure_dev_setup, load_ptau

BLS_Q = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB


@pytest.fixture(scope="module")
def c_kzg_setup():
    return ckzg.load_trusted_setup(str(ceremony_file()), 0)


def random_vector(field, width, rng, density=0.4):
    return [rng.randrange(field.modulus) if rng.random() < density else 0 for _ in range(width)]


# ---------------------------------------------------------------- fields


@pytest.mark.parametrize("field", [BLS12_381_FR, BN254_FR], ids=["bls", "bn"])
def test_batch_inverse_and_roots(field):
    rng = random.Random(1)
    xs = [rng.randrange(1, field.modulus) for _ in range(50)]
    assert field.batch_inv(xs) == [pow(x, -1, field.modulus) for x in xs]
    w = field.root_of_unity(256)
    assert pow(w, 256, field.modulus) == 1 and pow(w, 128, field.modulus) != 1
    with pytest.raises(ZeroDivisionError):
        field.batch_inv([1, 0])


def test_field_bytes_are_strict():
    f = BLS12_381_FR
    assert f.from_bytes(f.to_bytes(f.modulus - 1)) == f.modulus - 1
    for bad in (f.modulus, f.modulus + 1, 2**256 - 1):
        with pytest.raises(ValueError, match="non-canonical"):
            f.from_bytes(bad.to_bytes(32, "big"))
    with pytest.raises(ValueError):
        f.from_bytes(bytes(31))


@given(st.binary(max_size=100))
def test_hash_to_nonzero_is_never_empty(data):
    for f in (BLS12_381_FR, BN254_FR):
        assert 1 <= f.hash_to_nonzero(data) < f.modulus


# ---------------------------------------------------------------- KZG on BLS12-381 vs c-kzg


def test_ceremony_basis_4096_matches_c_kzg(c_kzg_setup):
    scheme = KZG(ceremony_setup(4096))
    rng = random.Random(2)
    values = random_vector(scheme.field, 4096, rng, density=1.0)
    blob = [0] * 4096
    for i, v in enumerate(values):  # EIP-4844 blobs list evaluations in bit-reversed order
        blob[int(format(i, "012b")[::-1], 2)] = v
    expected = ckzg.blob_to_kzg_commitment(b"".join(v.to_bytes(32, "big") for v in blob), c_kzg_setup)
    assert scheme.curve.encode(scheme.commit(values)) == expected


@pytest.mark.parametrize("width", [16, 256])
def test_openings_verify_with_c_kzg(width, c_kzg_setup):
    """The derived width-W basis opens at w^i (and outside the domain) as the 0x0a precompile expects."""
    scheme = load_scheme("kzg-bls12-381", width)
    rng = random.Random(width)
    values = random_vector(scheme.field, width, rng)
    c = scheme.curve.encode(scheme.commit(values))
    for index in (0, 1, width // 2 + 1, width - 1):
        pi = scheme.curve.encode(scheme.open_in_domain(values, index))
        z = scheme.domain.points[index].to_bytes(32, "big")
        y = values[index].to_bytes(32, "big")
        assert ckzg.verify_kzg_proof(c, z, y, pi, c_kzg_setup)
        assert scheme.verify_bytes(c, z, y, pi)
        wrong = ((values[index] + 1) % scheme.field.modulus).to_bytes(32, "big")
        assert not ckzg.verify_kzg_proof(c, z, wrong, pi, c_kzg_setup)
        assert not scheme.verify_bytes(c, z, wrong, pi)
    t = rng.randrange(scheme.field.modulus)
    y, pi = scheme.open_outside(values, t)
    assert ckzg.verify_kzg_proof(
        c, t.to_bytes(32, "big"), y.to_bytes(32, "big"), scheme.curve.encode(pi), c_kzg_setup
    )


def test_opening_checks_with_py_ecc_pairing(bls16):
    """py_ecc's pure-Python BLS12-381 pairing as the independent reference for our pairing check."""
    from py_ecc import optimized_bls12_381 as b
    from py_ecc.bls.point_compression import decompress_G1, decompress_G2

    values = random_vector(bls16.field, 16, random.Random(9), density=1.0)
    c_bytes = bls16.curve.encode(bls16.commit(values))
    pi_bytes = bls16.curve.encode(bls16.open_in_domain(values, 3))
    z, y = bls16.domain.points[3], values[3]
    c, pi = decompress_G1(int.from_bytes(c_bytes, "big")), decompress_G1(int.from_bytes(pi_bytes, "big"))
    lines = ceremony_file().read_text().split()
    tau2 = decompress_G2(
        tuple(int.from_bytes(bytes.fromhex(lines[2 + 4096 + 1])[i : i + 48], "big") for i in (0, 48))
    )
    lhs = b.add(b.add(c, b.neg(b.multiply(b.G1, y))), b.multiply(pi, z))
    # e(C - yG + z pi, G2) == e(pi, tau G2)
    assert (
        b.final_exponentiate(b.pairing(b.G2, lhs, False) * b.pairing(tau2, b.neg(pi), False)) == b.FQ12.one()
    )
    assert bls16.verify(bls16.curve.decode(c_bytes), z, y, bls16.curve.decode(pi_bytes))


def test_homomorphic_update_equals_recommit(bls16):
    rng = random.Random(4)
    values = random_vector(bls16.field, 16, rng)
    c = bls16.commit(values)
    for _ in range(5):
        i, new = rng.randrange(16), rng.randrange(bls16.field.modulus)
        c = bls16.add_delta(c, i, new - values[i])
        values[i] = new
    assert bls16.curve.eq(c, bls16.commit(values))


def test_verify_bytes_rejects_non_canonical_scalars(bls16):
    values = random_vector(bls16.field, 16, random.Random(5), density=1.0)
    c = bls16.curve.encode(bls16.commit(values))
    pi = bls16.curve.encode(bls16.open_in_domain(values, 2))
    p = bls16.field.modulus
    z, y = bls16.domain.points[2], values[2]
    assert bls16.verify_bytes(c, z.to_bytes(32, "big"), y.to_bytes(32, "big"), pi)
    # the same numbers plus the modulus: equal mod p, so only the canonical check stops them
    assert not bls16.verify_bytes(c, (z + p).to_bytes(32, "big"), y.to_bytes(32, "big"), pi)
    assert not bls16.verify_bytes(c, z.to_bytes(32, "big"), (y + p).to_bytes(32, "big"), pi)


# ---------------------------------------------------------------- point decoding


def _bls_x_encoding(x: int) -> bytes:
    return (x | (1 << 383)).to_bytes(48, "big")


def test_bls_decode_rejects_bad_points():
    g = BLS12_381.encode(BLS12_381.generator())
    assert BLS12_381.eq(BLS12_381.decode(g), BLS12_381.generator())
    x = int.from_bytes(g, "big") & ((1 << 381) - 1)
    flags = int.from_bytes(g, "big") >> 381 << 381
    with pytest.raises(InvalidPoint):  # x + q: a non-canonical coordinate
        BLS12_381.decode((flags | (x + BLS_Q)).to_bytes(48, "big"))
    off_curve = next(x for x in range(1, 50) if pow((x**3 + 4) % BLS_Q, (BLS_Q - 1) // 2, BLS_Q) != 1)
    with pytest.raises(InvalidPoint):
        BLS12_381.decode(_bls_x_encoding(off_curve))
    on_curve = next(x for x in range(1, 50) if pow((x**3 + 4) % BLS_Q, (BLS_Q - 1) // 2, BLS_Q) == 1)
    point = G1Point.from_compressed_bytes_unchecked(_bls_x_encoding(on_curve))
    assert not point.is_in_subgroup()  # on the curve, outside the r-order subgroup
    with pytest.raises(InvalidPoint):
        BLS12_381.decode(_bls_x_encoding(on_curve))
    with pytest.raises(InvalidPoint):  # the point at infinity with junk after its flag
        BLS12_381.decode(bytes([0xC0]) + bytes(46) + b"\x01")
    with pytest.raises(InvalidPoint):
        BLS12_381.decode(g[:47])


def test_bn_decode_rejects_bad_points():
    g = BN254.encode(BN254.generator())
    assert BN254.eq(BN254.decode(g), bn.G1)
    with pytest.raises(InvalidPoint):
        BN254.decode(g[:32] + (int.from_bytes(g[32:], "big") + 1).to_bytes(32, "big"))
    with pytest.raises(InvalidPoint):
        BN254.decode((int.from_bytes(g[:32], "big") + bn.field_modulus).to_bytes(32, "big") + g[32:])
    assert BN254.decode(bytes(64)) == bn.Z1


# ---------------------------------------------------------------- BN254 setups


def test_ptau_from_snarkjs_gives_working_openings(bn16, ptau_file):
    assert "pot1.ptau" in bn16.setup.source
    values = random_vector(bn16.field, 16, random.Random(6))
    c = bn16.commit(values)
    pi = bn16.open_in_domain(values, 5)
    z, y = bn16.domain.points[5], values[5]
    # py_ecc's pairing directly, not through our wrapper
    lhs = bn.add(bn.add(c, bn.neg(bn.multiply(bn.G1, y))), bn.multiply(pi, z))
    product = bn.pairing(bn.G2, lhs, False) * bn.pairing(bn16.setup.g2_tau, bn.neg(pi), False)
    assert bn.final_exponentiate(product) == bn.FQ12.one()
    assert bn16.verify(c, z, y, pi)
    assert not bn16.verify(c, z, (y + 1) % bn16.field.modulus, pi)


def test_ptau_loader_rejects_bad_files(tmp_path, ptau_file):
    with pytest.raises(SetupError, match="more"):
        load_ptau(ptau_file, 64)  # the file holds 2^5 powers
    junk = tmp_path / "junk.ptau"
    junk.write_bytes(b"not a ptau file")
    with pytest.raises(SetupError, match="magic"):
        load_ptau(junk, 16)
    tampered = tmp_path / "truncated.ptau"
    tampered.write_bytes(ptau_file.read_bytes()[:200])
    with pytest.raises(SetupError, match="truncated"):
        load_ptau(tampered, 16)
    with pytest.raises(SetupError):
        load_ptau(tmp_path / "missing.ptau", 16)


def test_ptau_with_inconsistent_g2_is_refused(tmp_path, ptau_file):
    import struct

    data = bytearray(ptau_file.read_bytes())
    offset = 12
    while offset < len(data):  # find section 3 (tauG2) and swap [tau]G2 for [tau^0]G2
        kind, size = struct.unpack_from("<IQ", data, offset)
        if kind == 3:
            start = offset + 12
            data[start + 128 : start + 256] = data[start : start + 128]
            break
        offset += 12 + size
    bad = tmp_path / "bad.ptau"
    bad.write_bytes(bytes(data))
    with pytest.raises(SetupError, match="disagree"):
        load_ptau(bad, 16)


def test_insecure_setup_needs_explicit_consent():
    with pytest.raises(SetupError, match="insecure"):
        insecure_dev_setup(BN254, 16)
    with pytest.raises(SetupError, match="ptau"):
        load_scheme("kzg-bn254", 16)
    scheme = load_scheme("kzg-bn254", 16, insecure_dev_setup_ok=True)
    assert "INSECURE" in scheme.setup.source
    values = random_vector(scheme.field, 16, random.Random(7))
    assert scheme.verify(
        scheme.commit(values), scheme.domain.points[1], values[1], scheme.open_in_domain(values, 1)
    )


def test_width_must_be_supported():
    for width in (8, 100, 8192):
        with pytest.raises(SetupError, match="power of two"):
            load_scheme("kzg-bls12-381", width)


@pytest.mark.parametrize("width", [16, 256])
def test_aggregated_quotients_equal_the_sum_of_single_quotients(width):
    """The multiproof's g (sparse terms + NTT convolutions) equals sum_i coef_i * quotient_i."""
    from verkle.multiproof import aggregate_quotients
    from verkle.paths import Opening

    scheme = load_scheme("kzg-bls12-381", width)
    p, rng = scheme.field.modulus, random.Random(width)
    vectors = {
        node: random_vector(scheme.field, width, rng, density)
        for node, density in (((0, 0), 1.0), ((1, 1), 0.05), ((1, 2), 0.5))
    }
    openings = [
        Opening(node, m, vectors[node][m])
        for node in vectors
        for m in rng.sample(range(width), width if node == (0, 0) else 3)
    ]
    coefs = [rng.randrange(p) for _ in openings]
    expected = [0] * width
    for o, c in zip(openings, coefs):
        expected = [
            (a + c * b) % p for a, b in zip(expected, scheme.quotient_in_domain(vectors[o.node], o.index))
        ]
    assert aggregate_quotients(scheme, openings, vectors, coefs) == expected
