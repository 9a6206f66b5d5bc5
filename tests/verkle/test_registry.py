"""The scheme and verifier-path records: one error for unknown names, facts that agree with each other
and with the fitted gas costs, and pure modules that stay free of web3."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verkle import gasmodel
from verkle.errors import InvalidRoot, MalformedProof, UnknownName
from verkle.proof import MULTI, SINGLE, Proof
from verkle.roots import check_root
from verkle.schemes import SCHEMES, load_scheme
from verkle.verifier_paths import PATHS, default_path, path_for_function, paths_for, verifier_args


def test_pure_modules_import_without_web3():
    code = (
        "import sys, verkle, verkle.gasmodel, verkle.contract, verkle.calldata, verkle.verifier_paths, "
        "verkle.offchain; assert 'web3' not in sys.modules, 'web3 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_names_give_one_error_listing_the_known_ones():
    for lookup, message in (
        (lambda: SCHEMES["x"], f"unknown scheme 'x' (known: {', '.join(SCHEMES)})"),
        (lambda: load_scheme("x"), f"unknown scheme 'x' (known: {', '.join(SCHEMES)})"),
        (lambda: paths_for("x"), f"unknown scheme 'x' (known: {', '.join(SCHEMES)})"),
        (lambda: PATHS["x"], f"unknown verifier path 'x' (known: {', '.join(PATHS)})"),
    ):
        with pytest.raises(UnknownName) as info:
            lookup()
        assert str(info.value) == message
        assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    assert "x" not in PATHS and PATHS.get("x") is None
    assert list(PATHS) == [p.name for p in PATHS.values()]
    known = r"\(known: kzg-bls12-381, kzg-bn254\)"
    with pytest.raises(InvalidRoot, match=rf"^invalid root: unknown scheme 'x' {known}"):
        check_root("x", bytes(48))
    with pytest.raises(MalformedProof, match=rf"unknown scheme 'x' {known}"):
        Proof.from_json({"type": "multi", "scheme": "x", "width": 16, "paths": [], "commitments": []})


def test_scheme_records_agree_with_their_curves():
    assert [s.proof_id for s in SCHEMES.values()] == list(range(1, len(SCHEMES) + 1))
    for scheme in SCHEMES.values():
        assert scheme.point_size == scheme.curve.point_size
        assert scheme.layout.term == scheme.layout.scalar_at + 32 >= scheme.layout.point + 32
        assert scheme.layout.point % 32 == 0  # the stored root is whole words (its cold SLOADs)


def test_every_scheme_has_a_default_multiproof_path_and_each_path_one_function():
    for name in SCHEMES:
        paths = paths_for(name)
        assert paths and paths_for(name, MULTI)
        assert len({p.function for p in paths}) == len(paths)
        for p in paths:
            assert path_for_function(name, p.function) is p
    names = ["msm-point-evaluation", "msm-pairing", "point-evaluation"]
    assert [p.name for p in paths_for("kzg-bls12-381")] == names
    assert [p.name for p in paths_for("kzg-bn254", SINGLE)] == []


def test_every_path_has_fitted_costs_for_each_of_its_features_under_each_fork():
    """One section per calibrated fork (their bytecode differs); every fork finds one."""
    from evmkit.forks import FORKS

    stored = json.loads(gasmodel.COSTS_FILE.read_text())
    assert {"prague", "osaka"} <= set(stored) <= set(FORKS)
    for fork in FORKS:
        costs = stored[gasmodel.costs_fork(fork)]
        for path in PATHS.values():
            assert set(path.features) <= set(gasmodel.FEATURES), path.name
            assert costs[path.name], (fork, path.name)
            for width, coef in costs[path.name].items():
                assert set(path.features) <= set(coef), (fork, path.name, width)


def test_default_paths_and_arguments(tree16, tree_bn):
    tree, contents = tree16
    keys = sorted(contents)[:3]
    from verkle.prover import prove_multi, prove_single

    multi, single = prove_multi(tree, keys), prove_single(tree, keys[0])
    assert default_path(multi).name == "msm-point-evaluation"
    assert default_path(single).name == "point-evaluation"
    assert verifier_args(single)[0] == "verifySingle"
    assert verifier_args(multi, "msm-pairing")[0] == "verifyMultiPairing"
    with pytest.raises(
        ValueError,
        match="kzg-bls12-381 proofs are checked by msm-point-evaluation, "
        "msm-pairing, point-evaluation, not 'ecmul-pairing'",
    ):
        verifier_args(multi, "ecmul-pairing")
    bn_tree, bn_contents = tree_bn
    bn_single = prove_single(bn_tree, sorted(bn_contents)[0])
    with pytest.raises(ValueError, match=r"no kzg-bn254 verifier checks single proofs \(its paths: "):
        default_path(bn_single)
