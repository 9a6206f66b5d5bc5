"""Plan -> Solidity source text, through the Jinja templates in ``templates/ml2sc``."""

from __future__ import annotations

import re

from evmkit.resources import render

from .plan import ActivationStep, Plan

_HEAD_DOC = {
    "argmax": "index of the largest output",
    "sigmoid": "1 if the sigmoid output is above 0.5, else 0",
    "logit": "1 if the output is above 0, else 0",
}


def contract_name_for(source_name: str) -> str:
    """A valid Solidity identifier derived from a file name."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", source_name.rsplit("/", 1)[-1].split(".")[0]).strip("_")
    name = "".join(part[:1].upper() + part[1:] for part in stem.split("_") if part) or "Model"
    if name[0].isdigit():
        name = "M" + name
    return name if name.lower().endswith("mlp") else name + "MLP"


def render_contract(plan: Plan, contract_name: str, source_name: str) -> str:
    activations = sorted({s.kind for s in plan.steps if isinstance(s, ActivationStep)})
    return render(
        "ml2sc/mlp_storage.sol.j2",
        plan=plan,
        fmt=plan.fmt,
        activations=activations,
        contract_name=contract_name,
        source_name=source_name,
        head_doc=_HEAD_DOC[plan.head],
    )
