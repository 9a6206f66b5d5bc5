"""Solidity compilation that works offline.

The compiler is resolved in a fixed order (see :func:`resolve_compiler`):

1. an explicit path (argument or the ``SOLC`` environment variable): a native ``solc``
   binary, or a solc-js package directory / its ``soljson.js``;
2. a native solc of the pinned version that py-solc-x has installed (what users with
   internet access get from ``solcx.install_solc``);
3. solc-js (the npm ``solc`` package, pinned in ``package.json``) driven through Node's
   ``require('solc').compile`` - the path that works on machines without internet.

Every compiler gets the same standard-JSON input, so the same version and settings give the
same bytecode. Results are cached on disk by the hash of (compiler version, input).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CompilerError, CompilerNotFound
from .forks import DEFAULT_FORK, FORKS

SOLC_VERSION = "0.8.37"
EVM_VERSION = FORKS[DEFAULT_FORK].evm_version
"""The evmVersion of :data:`evmkit.forks.DEFAULT_FORK`; :func:`default_settings` takes any other."""
OPTIMIZER_RUNS = 200

_DRIVER = Path(__file__).with_name("solcjs_compile.js")


@dataclass(frozen=True)
class Compiler:
    """A resolved compiler: ``kind`` is ``native`` or ``solcjs``."""

    kind: str
    path: Path
    version: str

    def describe(self) -> str:
        return f"solc {self.version} ({self.kind}: {self.path})"


@dataclass(frozen=True)
class Artifact:
    """What deploying and calling a contract needs."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    # (start, length) of every immutable in the runtime code: the deployer fills them in, so a
    # comparison of deployed code with a fresh compile masks them
    immutables: tuple[tuple[int, int], ...] = ()

    def runtime_matches(self, deployed: bytes) -> bool:
        """Is `deployed` this artifact's runtime code, whatever values its immutables hold?"""
        if len(deployed) != len(self.deployed_bytecode):
            return False
        ours, theirs = bytearray(self.deployed_bytecode), bytearray(deployed)
        for start, length in self.immutables:
            ours[start : start + length] = theirs[start : start + length] = bytes(length)
        return ours == theirs


def default_settings(evm_version: str = EVM_VERSION) -> dict[str, Any]:
    """The project's standard-JSON settings for ``evm_version`` (a fork's ``evm_version``)."""
    return {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "evmVersion": evm_version,
        "outputSelection": {
            "*": {
                "*": [
                    "abi",
                    "evm.bytecode.object",
                    "evm.deployedBytecode.object",
                    "evm.deployedBytecode.immutableReferences",
                ]
            }
        },
    }


def project_roots() -> list[Path]:
    """Directories whose ``node_modules`` may hold the pinned solc-js."""
    roots = [Path.cwd(), *Path.cwd().parents]
    here = Path(__file__).resolve().parent
    roots += [here, *here.parents]
    seen: list[Path] = []
    for root in roots:
        if root not in seen:
            seen.append(root)
    return seen


def find_solcjs() -> Path | None:
    """The directory of an npm-installed ``solc`` package, if any."""
    env = os.environ.get("SOLCJS_DIR")
    if env:
        return Path(env)
    for root in project_roots():
        candidate = root / "node_modules" / "solc"
        if (candidate / "soljson.js").is_file():
            return candidate
    return None


def _solcjs_version(package_dir: Path) -> str:
    meta = json.loads((package_dir / "package.json").read_text())
    return str(meta["version"])


def _native_version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError as exc:
        raise CompilerNotFound(f"cannot run solc at {binary}: {exc}") from None
    for token in out.split():
        if token[:1].isdigit() and "." in token:
            return token.split("+")[0]
    raise CompilerNotFound(f"{binary} does not look like solc (no version in --version)")


def _explicit(path: Path) -> Compiler:
    if path.is_dir() or path.name.endswith(".js"):
        package_dir = path if path.is_dir() else path.parent
        if not (package_dir / "soljson.js").is_file():
            raise CompilerNotFound(f"{path} is not a solc-js package (no soljson.js)")
        return Compiler("solcjs", package_dir, _solcjs_version(package_dir))
    if not path.is_file():
        raise CompilerNotFound(f"solc not found at {path} (from --solc or SOLC)")
    return Compiler("native", path, _native_version(path))


def installed_native() -> Compiler | None:
    try:
        import solcx
        from packaging.version import Version
    except ImportError:
        return None
    try:
        installed = solcx.get_installed_solc_versions()
    except Exception:  # py-solc-x raises on an unreadable install folder
        return None
    if Version(SOLC_VERSION) not in installed:
        return None
    binary = Path(solcx.install.get_executable(SOLC_VERSION))
    return Compiler("native", binary, SOLC_VERSION)


def resolve_compiler(explicit: str | os.PathLike[str] | None = None) -> Compiler:
    """Find a compiler, in the documented order; raise :class:`CompilerNotFound` if none."""
    chosen = explicit or os.environ.get("SOLC")
    if chosen:
        return _explicit(Path(chosen))
    native = installed_native()
    if native is not None:
        return native
    package_dir = find_solcjs()
    if package_dir is not None:
        if shutil.which("node") is None:
            raise CompilerNotFound("solc-js is installed but `node` is not on PATH")
        return Compiler("solcjs", package_dir, _solcjs_version(package_dir))
    raise CompilerNotFound(
        f"no Solidity compiler found: run `npm install` in the project root (installs solc-js "
        f"{SOLC_VERSION}), set SOLC to a solc binary, or `python -m solcx.install v{SOLC_VERSION}`"
    )


def _cache_dir() -> Path:
    base = os.environ.get("EVMKIT_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "evmkit" / "solc"


def _cache_key(compiler: Compiler, standard_json: str) -> str:
    digest = hashlib.sha256()
    digest.update(compiler.version.encode())
    digest.update(b"\0")
    digest.update(standard_json.encode())
    return digest.hexdigest()


def _run_native(compiler: Compiler, standard_json: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(compiler.path), "--standard-json"],
        input=standard_json,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 and not proc.stdout:
        raise CompilerError(proc.stderr.strip() or "solc failed without output")
    return json.loads(proc.stdout)


class _SolcJsServer:
    """One long-lived Node process per solc-js package (see ``solcjs_compile.js``)."""

    _servers: dict[Path, _SolcJsServer] = {}
    _lock = threading.Lock()

    def __init__(self, package_dir: Path) -> None:
        self.process = subprocess.Popen(
            ["node", str(_DRIVER), str(package_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    @classmethod
    def compile(cls, package_dir: Path, standard_json: str) -> dict[str, Any]:
        with cls._lock:
            server = cls._servers.get(package_dir)
            if server is None or server.process.poll() is not None:
                server = cls._servers[package_dir] = cls(package_dir)
            assert server.process.stdin and server.process.stdout
            try:
                server.process.stdin.write(standard_json + "\n")
                server.process.stdin.flush()
                line = server.process.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                stderr = server.process.stderr.read() if server.process.stderr else ""
                cls._servers.pop(package_dir, None)
                raise CompilerError(f"solc-js stopped: {stderr.strip() or 'no output'}")
            return json.loads(line)


def _run_solcjs(compiler: Compiler, standard_json: str) -> dict[str, Any]:
    return _SolcJsServer.compile(compiler.path, standard_json)


def compile_standard(standard_input: Mapping[str, Any], compiler: Compiler | None = None) -> dict[str, Any]:
    """Compile standard-JSON input; return solc's output, raising on errors. Cached on disk."""
    compiler = compiler or resolve_compiler()
    standard_json = json.dumps(standard_input, sort_keys=True, separators=(",", ":"))
    cache_file = _cache_dir() / f"{_cache_key(compiler, standard_json)}.json"
    if cache_file.is_file():
        return json.loads(cache_file.read_text())
    runner = _run_native if compiler.kind == "native" else _run_solcjs
    output = runner(compiler, standard_json)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        message = "\n".join(e.get("formattedMessage") or e.get("message", "") for e in errors)
        raise CompilerError(message.strip())
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(output))
    tmp.replace(cache_file)
    return output


def compile_sources(
    sources: Mapping[str, str],
    contract: str,
    compiler: Compiler | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Artifact:
    """Compile ``sources`` (file name -> text) and return the artifact of ``contract``."""
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": dict(settings or default_settings()),
    }
    output = compile_standard(standard_input, compiler)
    for file_contracts in output.get("contracts", {}).values():
        if contract in file_contracts:
            entry = file_contracts[contract]
            return Artifact(
                name=contract,
                abi=entry["abi"],
                bytecode=bytes.fromhex(entry["evm"]["bytecode"]["object"]),
                deployed_bytecode=bytes.fromhex(entry["evm"]["deployedBytecode"]["object"]),
                immutables=tuple(
                    (int(r["start"]), int(r["length"]))
                    for refs in entry["evm"]["deployedBytecode"].get("immutableReferences", {}).values()
                    for r in refs
                ),
            )
    raise CompilerError(f"contract {contract!r} not found in the compiled sources")
