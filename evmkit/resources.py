"""Templates and hand-written contracts, found in a checkout or in an installed wheel.

In a wheel, ``templates/`` and ``contracts/`` are installed inside this package (see
``pyproject.toml``); in a checkout they sit at the repository root.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

_HERE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``templates`` or ``contracts``: the packaged copy if present, else the checkout's."""
    for candidate in (_HERE / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the project's {name}/ folder is missing from this installation")


def contract_source(file_name: str) -> str:
    return (resource_dir("contracts") / file_name).read_text()


@lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """Strict Jinja: an undefined variable is an error, not an empty string in Solidity."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template_name: str, **context: object) -> str:
    return template_env().get_template(template_name).render(**context)
