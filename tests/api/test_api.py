"""The library's front door (``import ml2sc``), on the embedded chain: a model as a module, a str or a
Path gives the same contract; deploy with no chain makes one; predict agrees with the emulator and
with float PyTorch; estimate and verify take what translate and deploy return."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ml2sc
from evmkit import chain
from ml2sc import emulator
from ml2sc.datasets import torch_predict
from ml2sc.plan import encode_inputs


@pytest.fixture(scope="module")
def wine():
    from ml2sc.datasets import load_split, train_mlp

    split = load_split("wine")
    return split, train_mlp(split, hidden=(8,), epochs=150)


@pytest.fixture(scope="module")
def model_file(wine, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "wine_mlp.pt"
    torch.save(wine[1], path)
    return path


def test_module_str_and_path_give_the_same_bytecode(wine, model_file: Path) -> None:
    from_path = ml2sc.translate(model_file)
    from_str = ml2sc.translate(str(model_file))
    from_module = ml2sc.translate(wine[1], name=model_file.name)
    assert from_path.bytecode == from_str.bytecode == from_module.bytecode
    assert from_path.compiled.source == from_module.compiled.source
    assert from_path.model_path == model_file and from_module.model_path is None
    assert ml2sc.translate(wine[1]).compiled.contract_name == "SequentialMLP"  # default: the class name


@pytest.mark.parametrize("bad", [3, None, b"model.pt", {"weights": []}])
def test_a_bad_model_argument_is_a_type_error_naming_the_accepted_types(bad) -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module, a str or a pathlib\.Path") as info:
        ml2sc.translate(bad)
    assert type(bad).__name__ in str(info.value)


def test_bad_options_are_clear_errors(wine) -> None:
    with pytest.raises(ValueError, match="format must be one of 'fixed', 'int8'"):
        ml2sc.translate(wine[1], format="float")
    with pytest.raises(ml2sc.PlanError, match="int8 needs calibration rows: pass calibrate="):
        ml2sc.translate(wine[1], format="int8")
    with pytest.raises(ml2sc.LayoutError):
        ml2sc.translate(wine[1], layout="heap")
    with pytest.raises(TypeError, match="deploy takes what ml2sc.translate returns"):
        ml2sc.deploy(wine[1])


@pytest.mark.parametrize("fmt", ["fixed", "int8"])
def test_deploy_on_a_fresh_chain_and_predict(wine, fmt: str) -> None:
    split, model = wine
    options = {"calibrate": split.x_train} if fmt == "int8" else {}
    t = ml2sc.translate(model, format=fmt, layout="packed", **options)
    deployment = ml2sc.deploy(t)  # chain=None: a fresh embedded chain
    assert deployment.session.rpc_url is None and deployment.manifest.chain == {"kind": "embedded"}
    assert deployment.deploy_gas > 0 and deployment.weights_gas > 0 and deployment.manifest.complete
    result = deployment.predict(split.x_test)
    rows = encode_inputs(t.plan, split.x_test.tolist())
    assert result.classes == [emulator.predict(t.plan, r).predicted_class for r in rows]
    assert all(result.emulator_agrees) and len(result.outputs) == len(split.x_test)
    assert result.gas_used == sum(result.gas_per_call) > 21_000 * len(result.gas_per_call)
    assert sum(result.rows_per_call) == len(split.x_test)
    agreement = np.mean(np.array(result.classes) == torch_predict(model, split.x_test))
    assert agreement >= (0.97 if fmt == "int8" else 1.0)
    one = deployment.predict(split.x_test[0].tolist())  # one row as a list of floats
    assert one.classes == result.classes[:1]
    assert ml2sc.verify(deployment).ok


def test_predict_on_a_given_chain_with_rows_per_call(wine) -> None:
    split, model = wine
    session = chain.embedded(block_gas_limit=60_000_000)
    deployment = ml2sc.deploy(ml2sc.translate(model), session)
    assert deployment.session is session and session.w3.eth.get_code(deployment.address)
    result = deployment.predict(split.x_test[:10], rows_per_call=4)
    assert result.rows_per_call == [4, 4, 2] and len(result.gas_per_call) == 3
    with pytest.raises(ml2sc.PlanError, match="row 0 has 3 features; the model takes 13"):
        deployment.predict([[1.0, 2.0, 3.0]])


def test_estimate_takes_a_translation_or_a_model(wine, model_file: Path) -> None:
    split, model = wine
    t = ml2sc.translate(model_file, layout="storage")
    report = ml2sc.estimate(t, split.x_test[:1])
    assert report.to_json() == ml2sc.estimate(model_file, split.x_test[:1], layout="storage").to_json()
    assert ml2sc.estimate(t, split.x_test, row=0).inference == report.inference  # row=: that row
    typical = ml2sc.estimate(t, split.x_test)  # default: the median row of the rows given
    assert typical.inference_row.endswith(f"of {len(split.x_test)} given (their median row)")
    index = int(typical.inference_row.split()[1])
    assert typical.inference == ml2sc.estimate(t, split.x_test[index : index + 1]).inference
    assert report.total == report.deploy.total + report.storage_total + report.inference.total
    assert [label for label, _ in report.upload][-1] == "finalize"
    zeros = ml2sc.estimate(model, layout="inline")  # no rows: an all-zero row, said so
    assert zeros.inference_row.startswith("all zeros (no rows given")
    assert zeros.storage_total == 0 and zeros.inference.total > 21_000
    with pytest.raises(TypeError, match="apply to a model, not to a translation"):
        ml2sc.estimate(t, layout="code")


def test_estimate_is_close_to_the_measured_deployment(wine) -> None:
    split, model = wine
    t = ml2sc.translate(model, layout="storage")
    report = ml2sc.estimate(t, split.x_test[:1])
    deployment = ml2sc.deploy(t)
    assert report.deploy.total == pytest.approx(deployment.deploy_gas, rel=0.01)
    assert report.storage_total == pytest.approx(deployment.weights_gas, rel=0.01)
