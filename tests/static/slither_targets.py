"""The project's contracts for static analysis, rendered as the project builds them.

Each :class:`evmkit.slither.Target` has a ``kind`` that names the generator and its variant, the key
the Slither triage file uses: ``ml2sc/<format>/<layout>`` (format ``fixed`` or ``int8``, every weight layout),
``merkle`` (the hand-written baseline) and ``verkle/<scheme>/w<width>``. The ``code`` layout's data
contracts are raw bytecode, not Solidity, so only its model contract is analysed.
"""

from __future__ import annotations

from evmkit.slither import Target

# BLS12-381 widths: the smallest, the default and the largest (the ceremony's 4096); BN254 at the
# width the verkle tests use. Verifier code differs by width only in its tables and index bits.
VERKLE_WIDTHS = {"kzg-bls12-381": (16, 256, 4096), "kzg-bn254": (16,)}


def tiny_mlp_layers():
    """A 4-6-5-4-4-3 MLP with random weights whose layers use every activation the templates
    render (relu, leaky_relu, sigmoid, tanh, softmax), so each activation's code is analysed."""
    import numpy as np

    from ml2sc.plan import FloatLayer

    rng = np.random.default_rng(7)
    shapes = [(6, 4, "relu"), (5, 6, "leaky_relu"), (4, 5, "sigmoid"), (4, 4, "tanh"), (3, 4, "softmax")]
    return [
        FloatLayer(
            f"fc{i}",
            rng.normal(0, 0.5, (n_out, n_in)),
            rng.normal(0, 0.1, n_out),
            act,
            0.01 if act == "leaky_relu" else 0.0,
        )
        for i, (n_out, n_in, act) in enumerate(shapes)
    ]


def ml2sc_targets() -> list[Target]:
    import numpy as np

    from ml2sc.blob import encode_blob
    from ml2sc.layouts import LAYOUTS
    from ml2sc.plan import build_fixed_plan
    from ml2sc.quant import build_int8_plan, calibrate
    from ml2sc.render import render_contract

    layers = tiny_mlp_layers()
    rows = np.random.default_rng(8).normal(0, 1, (32, layers[0].weight.shape[1]))
    plans = {"fixed": build_fixed_plan(layers), "int8": build_int8_plan(layers, calibrate(layers, rows))}
    targets = []
    for fmt, plan in plans.items():
        blob = encode_blob(plan)
        for layout in LAYOUTS:
            name = f"Slither{fmt.capitalize()}{layout.capitalize()}MLP"
            source = render_contract(plan, blob, layout, name, "tiny.pt")
            targets.append(Target(f"ml2sc/{fmt}/{layout}", name, source))
    return targets


def merkle_target() -> Target:
    from evmkit.resources import contract_source
    from verkle.contract import verifier_settings  # the settings the baseline is deployed with

    return Target(
        "merkle", "MerkleVerifier", contract_source("verkle", "MerkleVerifier.sol"), verifier_settings()
    )


SLITHER_FORK = "prague"  # the newest fork whose verifier source Slither 0.10.3 parses (no Yul clz)


def verkle_targets(widths: dict[str, tuple[int, ...]] | None = None) -> list[Target]:
    """One verifier per scheme and width. BN254 uses the insecure dev setup: the verifier's code
    takes only the setup's tau*G2 as a constant, so any setup analyses the same. Rendered for Prague:
    Slither 0.10.3 cannot resolve Yul's `clz` (EIP-7939), which the Osaka render uses in two small
    helpers of the key walk (samePrefix, sharedBelow); the rest of the source is the same."""
    from verkle.contract import render_verifier, verifier_name, verifier_settings  # as deployed
    from verkle.schemes import SCHEMES, load_scheme

    targets = []
    for scheme_name, scheme_widths in (widths or VERKLE_WIDTHS).items():
        for width in scheme_widths:
            scheme = load_scheme(scheme_name, width, insecure_dev_setup_ok=True)
            targets.append(
                Target(
                    f"verkle/{scheme_name}/w{width}",
                    verifier_name(scheme),
                    render_verifier(scheme, fork=SLITHER_FORK),
                    verifier_settings(SCHEMES[scheme_name].evm_version(SLITHER_FORK)),
                )
            )
    return targets


def all_targets() -> list[Target]:
    return [*ml2sc_targets(), merkle_target(), *verkle_targets()]
