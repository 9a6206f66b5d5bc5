"""The deployment manifest: what was deployed where, what it cost, and what it commits to (the model
description, the weights hash and the model hash that the contract holds).

It is rewritten after every transaction, so an interrupted deployment leaves a manifest that
the next ``ml2sc deploy`` resumes from. A transaction's hash is written (as ``pending``) before the
transaction goes out, so one in flight when the process stops is looked up on resume, not lost.
The model file is named relative to the manifest (so the pair can move together) and held to the
SHA-256 it had at deploy time.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evmkit.chain import TxResult
from evmkit.forks import FORKS

MANIFEST_VERSION = 5  # 3: model_hash and descriptor (ml2sc.commitment); 4: relative model path, pending;
# 5: fork (the rules the contract was compiled for and deployed under)
READABLE_VERSIONS = (3, 4, 5)  # a version 3 manifest holds an absolute model path and no pending field
FORK_BEFORE_VERSION_5 = "prague"
"""The fork of a manifest written before version 5: ml2sc compiled for and deployed under Prague then."""
BLOCK_GAS_30M = 30_000_000


class ManifestError(ValueError):
    """A manifest that cannot be read, is of another version, or is malformed; the message says which."""


@dataclass
class TxRecord:
    """One transaction of a deployment: its label (deploy, upload[a:b], finalize, data[i]) and gas."""

    label: str
    tx_hash: str
    gas_used: int
    fits_30m_block: bool
    gas_price: int = 0  # the receipt's effective gas price, wei per gas (0: not recorded, version 3)

    @classmethod
    def of(cls, label: str, tx: TxResult) -> TxRecord:
        return cls(label, tx.tx_hash, tx.gas_used, tx.gas_used <= BLOCK_GAS_30M, tx.effective_gas_price)

    @property
    def cost_wei(self) -> int:
        """What this transaction's gas cost its sender."""
        return self.gas_used * self.gas_price


@dataclass
class Manifest:
    """What was deployed where (JSON, rewritten after every transaction)."""

    model_path: str | None  # the model file, relative to the manifest; None for an in-memory module
    model_sha256: str  # empty for an in-memory module
    contract_name: str
    architecture: str
    number_format: dict[str, Any]
    layout: str
    n_params: int
    blob_bytes: int
    weights_hash: str
    model_hash: str
    descriptor: dict[str, Any]
    chain: dict[str, Any]
    compiler: str
    abi: list[dict[str, Any]]
    address: str | None = None
    data_contracts: list[str] = field(default_factory=list)
    transactions: list[TxRecord] = field(default_factory=list)
    complete: bool = False
    source_name: str = ""  # the name the contract was translated under (in its source); "": the file's
    pending: dict[str, str] | None = None  # {"label", "tx_hash"}: sent, receipt not yet recorded
    fork: str = FORK_BEFORE_VERSION_5  # the rules compiled for and deployed under (evmkit.forks)
    tool: str = "ml2sc"
    version: int = MANIFEST_VERSION
    location: Path | None = field(default=None, compare=False, repr=False)  # where it was loaded from

    @property
    def translated_name(self) -> str:
        """The name the contract was translated under, as its source holds it (``verify`` rebuilds the
        source with it): recorded, or for a manifest written before it was, the model file's name."""
        return self.source_name or Path(self.model_path or "").name

    def named_model_file(self) -> Path:
        """The path the manifest names, as it names it (a relative one taken from the manifest's
        folder), unchecked: for comparing, never for loading (see :meth:`model_file`)."""
        if self.model_path is None:
            raise ManifestError(
                f"this deployment was translated from an in-memory module ({self.translated_name!r}), "
                "not a file: pass the model (model= in Python, the model file on the command line)"
            )
        path = Path(self.model_path)
        if not path.is_absolute() and self.location is not None:
            path = self.location.parent / path
        return path

    def model_file(self) -> Path:
        """The model file this deployment was translated from, refused in one line unless it lies
        (after symlinks) in the folder of the manifest read from disk, or below it: a manifest is
        data, and the file it names will be unpickled, which can run code."""
        path = self.named_model_file()
        if self.location is None:  # built in this process from the translation itself
            return path
        folder = self.location.resolve().parent
        if not path.resolve().is_relative_to(folder):
            old = " (a version 3 manifest names its model by absolute path: keep them in one folder)"
            raise ManifestError(
                f"the manifest names a model file outside its folder ({self.model_path}); refusing to load "
                "it: a manifest is data, and loading a model file can run code - pass the model file itself"
                + (old if self.version == 3 and Path(self.model_path).is_absolute() else "")
            )
        return path

    def checked_model_file(self) -> Path:
        """:meth:`model_file`, refused in one line if it is missing or its SHA-256 is not the one
        recorded at deploy time: another file there would give silently wrong predictions."""
        path = self.model_file()
        if not path.is_file():
            raise ManifestError(f"the manifest's model file {path} is not there (moved or deleted?)")
        if self.model_sha256 and file_sha256(path) != self.model_sha256:
            raise ManifestError(
                f"model file changed since deploy: {path} has SHA-256 {file_sha256(path)[:16]}..., the "
                f"manifest recorded {self.model_sha256[:16]}... ('ml2sc verify' names what differs)"
            )
        return path

    @property
    def cost_wei(self) -> int:
        """What every recorded transaction cost: gas used times its effective gas price."""
        return sum(t.cost_wei for t in self.transactions)

    def gas(self, prefix: str) -> int:
        return sum(t.gas_used for t in self.transactions if t.label.startswith(prefix))

    @property
    def upload_gas(self) -> int:
        """Everything that stores the weights: slot uploads, finalize, data contracts."""
        return self.gas("upload") + self.gas("finalize") + self.gas("data")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("location")
        data["gas"] = {"deploy": self.gas("deploy"), "upload": self.upload_gas}
        data["cost_wei"] = self.cost_wei
        return data

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)  # atomic: a crash never leaves half a manifest
        self.location = Path(path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(Path(path).read_bytes().decode("utf-8"))
        except OSError as exc:
            raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ManifestError(f"{path} is not an ml2sc manifest (not UTF-8 JSON)") from None
        if not isinstance(data, dict) or data.get("tool") != "ml2sc":
            raise ManifestError(f"{path} is not an ml2sc deployment manifest")
        if data.get("version") not in READABLE_VERSIONS:
            raise ManifestError(
                f"{path} is an ml2sc manifest of version {data.get('version')!r}; this ml2sc reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))} (redeploy to write one)"
            )
        data.pop("gas", None)
        data.pop("cost_wei", None)
        data.pop("location", None)
        if data.get("version") in (3, 4):  # written when ml2sc compiled for Prague only (a resumed one
            data.setdefault("fork", FORK_BEFORE_VERSION_5)  # keeps its version and records the fork)
        elif "fork" not in data:
            raise ManifestError(f"manifest {path} is malformed: it records no fork")
        try:
            data["transactions"] = [TxRecord(**t) for t in data.get("transactions", [])]
            manifest = cls(**data)
        except TypeError as exc:
            raise ManifestError(f"manifest {path} is malformed: {exc}") from None
        problem = manifest.shape_problem()
        if problem:
            raise ManifestError(f"manifest {path} is malformed: {problem}")
        manifest.location = Path(path)
        return manifest

    def shape_problem(self) -> str | None:
        """What is not of the type this tool writes, if anything: JSON edited by hand must not get
        as far as a traceback deep inside a command."""
        kinds: dict[str, type | tuple[type, ...]] = {
            "model_path": (str, type(None)),
            "model_sha256": str,
            "contract_name": str,
            "architecture": str,
            "number_format": dict,
            "layout": str,
            "n_params": int,
            "blob_bytes": int,
            "weights_hash": str,
            "model_hash": str,
            "descriptor": dict,
            "chain": dict,
            "compiler": str,
            "abi": list,
            "address": (str, type(None)),
            "data_contracts": list,
            "complete": bool,
            "source_name": str,
            "fork": str,
        }
        for name, kind in kinds.items():
            if not isinstance(getattr(self, name), kind):
                wanted = getattr(kind, "__name__", "str or null")
                return f"{name} is {type(getattr(self, name)).__name__}, not {wanted}"
        if isinstance(self.fork, str) and self.fork not in FORKS:
            return f"fork {self.fork[:30]!r} is not one of {', '.join(FORKS)}"
        if self.model_path == "":
            return "model_path is empty (null for an in-memory module)"
        if self.pending is not None and not (
            isinstance(self.pending, dict)
            and all(isinstance(self.pending.get(k), str) for k in ("label", "tx_hash"))
        ):
            return "pending must be null or an object with label and tx_hash"
        lacking = [name for name in CALLED_FUNCTIONS if name not in abi_functions(self.abi)]
        if lacking:
            return f"its abi lacks {', '.join(lacking)} (not an ml2sc model contract's ABI)"
        if self.address is not None and not _is_address(self.address):
            return f"address {self.address[:50]!r} is not a 0x-prefixed 20-byte hex address"
        if not all(isinstance(a, str) and _is_address(a) for a in self.data_contracts):
            return "data_contracts must be a list of addresses"
        layers = self.descriptor.get("layers")
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            return "descriptor.layers must be a list of objects"
        if self.chain.get("kind") == "rpc" and not isinstance(self.chain.get("rpc_url"), str):
            return "an RPC deployment's chain needs rpc_url"
        return None


CALLED_FUNCTIONS = ("predict", "predictBatch", "modelHash", "weightsHash")
"""What every ml2sc model contract has, and the tools call."""


def abi_functions(abi: list[Any]) -> set[str]:
    """The function names an ABI declares (entries that are not objects are skipped)."""
    return {e.get("name") for e in abi if isinstance(e, dict) and e.get("type") == "function"}


def _is_address(text: str) -> bool:
    return len(text) == 42 and text[:2] in ("0x", "0X") and all(c in string.hexdigits for c in text[2:])


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def model_path_for(model: Path, manifest_path: Path | None) -> str:
    """How a manifest names its model file: relative to the manifest's folder when there is one
    (so the two can move together), else absolute."""
    model = Path(model).resolve()
    if manifest_path is None:
        return str(model)
    return os.path.relpath(model, Path(manifest_path).resolve().parent)
