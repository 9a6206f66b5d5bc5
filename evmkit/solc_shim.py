"""A ``solc`` command line over the project's compiler, for tools that expect a native solc.

crytic-compile (Slither's front end) runs ``solc --version`` and, with ``--solc-standard-json``,
``solc --standard-json --allow-paths DIR`` with the standard-JSON input on stdin. This module
answers exactly those two, through :func:`evmkit.solc.compile_standard`, so the compiler is the one
:func:`evmkit.solc.resolve_compiler` picks (the pinned solc-js when no native solc is installed).
Anything else exits with status 2 and says so: an unsupported call must never look like a success.

Sources given by ``urls`` (crytic-compile's way) are read from disk here, since solc-js's
``compile`` has no file system access. Imports between files are not resolved.

crytic-compile sets only the optimizer in the input's settings (never ``viaIR``), so the caller may
pass the settings a contract is really built with in the ``EVMKIT_SOLC_SETTINGS`` environment
variable (a JSON object); they replace the input's, except its ``outputSelection``.

``write_launcher(directory)`` writes an executable ``solc`` that runs this module with the current
Python, for ``slither --solc PATH``.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

from .errors import EvmkitError
from .solc import compile_standard, resolve_compiler

SETTINGS_ENV = "EVMKIT_SOLC_SETTINGS"


def inline_sources(standard_input: dict[str, Any], base: Path) -> dict[str, Any]:
    """The input with every ``{"urls": [path]}`` source replaced by its file's content."""
    sources = {}
    for name, entry in standard_input.get("sources", {}).items():
        if "content" not in entry:
            urls = entry.get("urls") or [name]
            entry = {"content": (base / urls[0]).read_text()}
        sources[name] = entry
    return {**standard_input, "sources": sources}


def with_settings(standard_input: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """The input with ``overlay``'s settings, keeping the input's output selection."""
    settings = {**standard_input.get("settings", {}), **overlay}
    if "outputSelection" in standard_input.get("settings", {}):
        settings["outputSelection"] = standard_input["settings"]["outputSelection"]
    return {**standard_input, "settings": settings}


def standard_json(text: str, base: Path, overlay: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compile standard-JSON input; errors come back in the output, as solc reports them."""
    try:
        standard_input = with_settings(inline_sources(json.loads(text), base), overlay or {})
        return compile_standard(standard_input)
    except (EvmkitError, OSError, ValueError) as exc:
        error = {
            "severity": "error",
            "type": type(exc).__name__,
            "formattedMessage": str(exc),
            "message": str(exc),
        }
        return {"errors": [error]}


def version_text() -> str:
    compiler = resolve_compiler()
    return (
        f"solc, the solidity compiler commandline interface\n"
        f"Version: {compiler.version} ({compiler.kind}: {compiler.path})\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args[:1] == ["--version"]:
            sys.stdout.write(version_text())
            return 0
        if args[:1] == ["--standard-json"]:
            overlay = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
            json.dump(standard_json(sys.stdin.read(), Path.cwd(), overlay), sys.stdout)
            return 0
    except EvmkitError as exc:
        print(f"solc shim: {exc}", file=sys.stderr)
        return 1
    print(
        f"solc shim: only --version and --standard-json are supported, got {' '.join(args)!r}",
        file=sys.stderr,
    )
    return 2


def write_launcher(directory: Path) -> Path:
    """An executable ``solc`` in ``directory`` that runs this module with this Python."""
    launcher = directory / "solc"
    package_root = Path(__file__).resolve().parent.parent  # the evmkit this process imported
    launcher.write_text(
        f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(package_root))}"${{PYTHONPATH:+:$PYTHONPATH}}" '
        f'exec {shlex.quote(sys.executable)} -m evmkit.solc_shim "$@"\n'
    )
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


if __name__ == "__main__":
    sys.exit(main())
