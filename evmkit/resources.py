"""Templates and hand-written contracts that ship inside the packages that use them.

Each package keeps its own: ``ml2sc/templates``, ``verkle/templates`` and ``verkle/contracts``.
They are package data, found through :mod:`importlib.resources`, so a checkout, an editable
install and a wheel all read the same files.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

__all__ = ["resource_dir", "contract_source", "template_env", "render"]


def resource_dir(package: str, name: str) -> Path:
    """The folder ``name`` (``templates`` or ``contracts``) inside ``package``."""
    folder = Path(str(resources.files(package).joinpath(name)))
    if not folder.is_dir():
        raise FileNotFoundError(f"{package}/{name}/ is missing from this installation")
    return folder


def contract_source(package: str, file_name: str) -> str:
    """The text of a hand-written Solidity file from ``package``'s ``contracts`` folder."""
    return (resource_dir(package, "contracts") / file_name).read_text()


@cache
def template_env(package: str) -> jinja2.Environment:
    """Strict Jinja over ``package``'s templates: an undefined variable is an error, not an
    empty string in Solidity."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir(package, "templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(package: str, template_name: str, **context: object) -> str:
    """Render ``template_name`` from ``package``'s templates."""
    return template_env(package).get_template(template_name).render(**context)
