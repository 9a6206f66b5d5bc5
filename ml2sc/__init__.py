"""PyTorch MLP -> integer Solidity contract -> deployment -> on-chain inference, gas measured.

    import ml2sc
    translation = ml2sc.translate(model, format="fixed", layout="auto")   # nn.Module, str or Path
    deployment = ml2sc.deploy(translation)          # chain=None: a fresh embedded py-evm chain
    result = deployment.predict(rows)               # .classes, .outputs, .gas_used
    report = ml2sc.estimate(translation, rows)      # predicted gas, before deploying

Names resolve on first use, so pure modules (``ml2sc.gasmodel``, ``ml2sc.emulator``) import
without web3.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "translate": "api",
    "deploy": "api",
    "attach": "api",
    "estimate": "api",
    "verify": "api",
    "Deployment": "api",
    "PredictResult": "api",
    "Translation": "workflow",
    "Verification": "workflow",
    "UnsupportedModel": "capture",
    "ModelLoadError": "capture",
    "PlanError": "plan",
    "FormatOverflow": "fixed",
    "LayoutError": "layouts",
    "InputError": "inputs",
    "ManifestError": "manifest",
    "BatchTooLarge": "onchain",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
