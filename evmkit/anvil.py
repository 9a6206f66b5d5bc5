"""Start and stop Foundry's anvil (installed from npm as ``@foundry-rs/anvil``) on loopback.

Used by the tests of the RPC path and by benchmark sweeps, which run much faster on anvil
than on py-evm.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import ChainError
from .forks import DEFAULT_FORK, get_fork
from .solc import project_roots


def find_anvil() -> Path | None:
    """The anvil binary from the project's node_modules, else one on PATH."""
    for root in project_roots():
        for candidate in sorted((root / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
            if candidate.is_file():
                return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil; ``private_keys`` are its funded dev accounts (test keys only)."""

    url: str
    private_keys: list[str]
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _libc_prctl() -> Any:
    """libc's prctl, looked up once in the parent (a lookup after fork could wait on a loader lock)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: ask for SIGTERM when the parent dies, so a parent killed without
    cleanup (SIGKILL) leaves no node running (Linux; elsewhere stop() is the only way)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_anvil(
    gas_limit: int = 30_000_000,
    code_size_limit: int | None = None,
    timeout: float = 30.0,
    extra_args: tuple[str, ...] = (),
    hardfork: str | None = None,
) -> AnvilNode:
    """Start anvil on a free loopback port under `hardfork`'s rules: a fork of :mod:`evmkit.forks` by
    name (default: ``DEFAULT_FORK``, osaka), or any other anvil --hardfork name (shanghai, ...)."""
    if hardfork is None or hardfork in ("cancun", "prague", "osaka"):
        hardfork = get_fork(hardfork or DEFAULT_FORK).anvil_hardfork
    binary = find_anvil()
    if binary is None:
        raise ChainError(
            "anvil not found: run `npm install` in the project root (installs @foundry-rs/anvil)"
        )
    port = free_port()
    config = Path(tempfile.mkdtemp(prefix="anvil-")) / "config.json"
    args = [
        str(binary),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--hardfork",
        hardfork,
        "--gas-limit",
        str(gas_limit),
        "--accounts",
        "3",
        "--config-out",
        str(config),
        # Keep recent states in memory only: by default anvil spills older states to
        # ~/.foundry/anvil/tmp and a long calibration left tens of GB there.
        "--prune-history",
        "256",
    ]
    if code_size_limit:
        args += ["--code-size-limit", str(code_size_limit)]
    args += list(extra_args)
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise ChainError(f"anvil exited at start: {err.strip()}")
        if config.is_file() and _listening(port):
            try:
                keys = json.loads(config.read_text())["private_keys"]
            except (json.JSONDecodeError, KeyError):
                time.sleep(0.05)
                continue
            return AnvilNode(f"http://127.0.0.1:{port}", list(keys), process)
        time.sleep(0.05)
    process.kill()
    raise ChainError(f"anvil did not start within {timeout:.0f} s")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
