"""``verkle``: build a KZG Verkle tree on disk, update it, prove keys, verify proofs, measure."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evmkit.cliargs import add_chain_args, add_fork_arg, int_at_least, positive_int, session_from_args
from evmkit.errors import ChainError, EvmkitError, TransactionReverted
from evmkit.forks import DEFAULT_FORK, get_fork

from . import store
from .benchplan import (
    BN254_WARN_LOG2,
    BN254_WIDTH,
    DEFAULTS,
    EMBEDDED_MAX_KEYS,
    OFFCHAIN,
    ONCHAIN,
    SCALE,
    BenchPlan,
    Rates,
    bn254_warning,
    describe,
    make_plan,
    shown,
)
from .data import DataError, parse_hex32, read_pairs
from .diskbuild import BuildError
from .kzg import KZG
from .offchain import verify_document
from .proof import MAX_DOCUMENT_BYTES, InvalidProof, MalformedProof, ProofDocument, hex_bytes, read_document
from .prover import prove_multi, prove_single
from .roots import check_root
from .runners import ClusterError, check_cluster_address
from .schemes import DEFAULT_SCHEME, DEFAULT_WIDTH, SCHEMES, load_scheme
from .srs import SetupError
from .store import StoreError, TreeInfo
from .subtrees import SchemeSpec
from .tree import InconsistentTree, VerkleTree
from .verifier_paths import PATHS, default_path, paths_for

EXIT_VALID, EXIT_INVALID, EXIT_MALFORMED, EXIT_UNCHECKED = 0, 1, 2, 3
VERIFY_PATHS = tuple(PATHS)
USER_ERRORS = (
    DataError, SetupError, StoreError, MalformedProof, EvmkitError, ValueError, OSError, ClusterError,
    BuildError,
)  # fmt: skip
INSECURE_WARNING = (
    "verkle: WARNING: --insecure-dev-setup uses a tau derived from a public seed: anyone can "
    "forge proofs under it. Use it for tests only, never for a deployed verifier."
)


def _add_setup(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("setup (kzg-bn254 only; kzg-bls12-381 always uses the Ethereum KZG ceremony)")
    g.add_argument("--ptau", metavar="FILE", help="snarkjs powers-of-tau file (.ptau) over bn128")
    g.add_argument(
        "--insecure-dev-setup",
        action="store_true",
        help="generate a throwaway setup from a public seed (tests only; prints a warning)",
    )


def _scheme(name: str, width: int, args: argparse.Namespace) -> KZG:
    if name == "kzg-bn254" and args.insecure_dev_setup and not args.ptau:
        print(INSECURE_WARNING, file=sys.stderr)
    return load_scheme(name, width, ptau=args.ptau, insecure_dev_setup_ok=args.insecure_dev_setup)


def _open(args: argparse.Namespace) -> VerkleTree:
    """The tree file, opened without reading it: commands read only the nodes they walk."""

    def scheme_for(info: TreeInfo) -> KZG:
        return _scheme(info.scheme, info.width, args)

    return store.open_tree(args.tree, scheme_for)


@contextmanager
def _damage_named(path: str) -> Iterator[None]:
    """A damaged tree file, found by a change's check, reported by name (nothing was written)."""
    try:
        yield
    except InconsistentTree as exc:
        raise StoreError(
            f"{path} is damaged: {exc}; nothing was changed (`verkle check` finds where)"
        ) from None


def _spec(args: argparse.Namespace, name: str, width: int) -> SchemeSpec:
    """The scheme as workers load it (a .ptau path made absolute: local workers start elsewhere)."""
    ptau = str(Path(args.ptau).resolve()) if args.ptau else None
    return SchemeSpec(name, width, ptau, bool(args.insecure_dev_setup))


def _key(text: str) -> bytes:
    return parse_hex32(text, "key")


def _one_line(text: str) -> str:
    """Every message the CLI prints is one line, whatever a library put in it."""
    return " ".join(str(text).split())


def _unpinned_note(root: bytes) -> str:
    return (
        f"trusted root {root.hex()} from the proof document itself "
        "(pass --root HEX to pin the root you trust)"
    )


# ---------------------------------------------------------------- commands


def cmd_build(args: argparse.Namespace) -> int:
    from .diskbuild import build_file

    if args.cluster and args.workers:
        raise ValueError("--workers sets a local pool; with --cluster the cluster's workers run the build")
    if args.cluster:
        check_cluster_address(args.cluster)
    scheme = _scheme(args.scheme, args.width, args)
    if not Path(args.data).is_file():
        raise DataError(f"cannot read {args.data}: no such file")
    report = build_file(
        scheme,
        _spec(args, args.scheme, args.width),
        read_pairs(args.data),
        args.output,
        workers=args.workers,
        cluster=args.cluster,
        progress=None if not args.quiet else False,
    )
    print(
        f"built {report.size} keys ({args.scheme}, width {args.width}) in {report.seconds:.2f} s "
        f"({report.keys_per_second:,.0f} keys/s; {report.subtrees} subtrees on {report.runner}; "
        f"peak memory {report.peak_rss_mib:,.0f} MiB) -> {args.output}"
    )
    print(f"root {report.root.hex()}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from .data import read_changes

    tree = _open(args)
    started = time.perf_counter()
    changes = list(read_changes(args.changes))
    try:
        result = tree.update(changes, progress=True)
    except InconsistentTree as exc:
        raise StoreError(
            f"{args.tree} is damaged: {exc}; nothing was changed (`verkle check` finds where)"
        ) from None
    store.commit(tree, args.tree)
    seconds = time.perf_counter() - started
    print(
        f"{len(changes):,} changes in {seconds:.2f} s ({len(changes) / seconds if seconds else 0:,.0f}/s): "
        f"{result.inserted:,} inserted, {result.updated:,} updated, {result.deleted:,} deleted, "
        f"{result.unchanged:,} unchanged, {result.absent:,} deletions of absent keys; "
        f"{result.nodes:,} nodes recommitted; {len(tree):,} keys now"
    )
    print(f"root {tree.root_commitment.hex()}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .diskbuild import check_file

    info = store.read_info(args.tree)
    scheme = _scheme(info.scheme, info.width, args)
    report = check_file(scheme, _spec(args, info.scheme, info.width), args.tree, workers=args.workers)
    print(
        f"{args.tree}: {report.size:,} keys; every node commitment and the root rebuilt from the leaves "
        f"match the file ({report.seconds:.1f} s)"
    )
    return 0


def cmd_insert(args: argparse.Namespace) -> int:
    tree = _open(args)
    existed = tree.get(_key(args.key)) is not None
    with _damage_named(args.tree):
        tree.insert(_key(args.key), parse_hex32(args.value, "value"))
    store.commit(tree, args.tree)
    print(f"{'updated' if existed else 'inserted'}; root {tree.root_commitment.hex()}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    tree = _open(args)
    with _damage_named(args.tree):
        deleted = tree.delete(_key(args.key))
    if not deleted:
        print(f"verkle: key {args.key} is not in the tree", file=sys.stderr)
        return 1
    store.commit(tree, args.tree)
    print(f"deleted; root {tree.root_commitment.hex()}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    value = _open(args).get(_key(args.key))
    if value is None:
        print("absent")
        return 1
    print(value.hex())
    return 0


def cmd_root(args: argparse.Namespace) -> int:
    info = store.read_info(args.tree)
    print(info.root.hex())
    if args.verbose:
        print(f"scheme {info.scheme}, width {info.width}, {info.size} keys, setup: {info.setup}")
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    tree = _open(args)
    keys = [_key(k) for k in args.keys]
    if args.single:
        if len(keys) != 1:
            raise ValueError("--single proves exactly one key (drop --single for a multiproof)")
        doc = prove_single(tree, keys[0])
    else:
        doc = prove_multi(tree, keys)
    try:  # the file is read on demand, not checked whole: a damaged one must not yield a proof
        verify_document(tree.scheme, doc, tree.root_commitment)
    except InvalidProof as exc:
        raise StoreError(
            f"{args.tree} is inconsistent: the proof built from it does not verify against its root "
            f"({exc}); nothing was written (run `verkle check {args.tree}`)"
        ) from None
    text = doc.to_json_text()
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise ValueError(
            f"the proof document would be {len(text.encode()):,} bytes, over the {MAX_DOCUMENT_BYTES:,} "
            f"bytes `verkle verify` reads: prove fewer keys per document"
        )
    Path(args.output).write_text(text)
    present = sum(v is not None for v in doc.values)
    print(
        f"{'single' if args.single else 'multi'}proof for {len(doc.keys)} keys ({present} present, "
        f"{len(doc.keys) - present} absent): {len(doc.proof.to_bytes())} bytes -> {args.output}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        doc = read_document(args.proof)
        root = check_root(doc.proof.scheme, hex_bytes(args.root, None, "--root")) if args.root else None
        scheme = _scheme(doc.proof.scheme, doc.proof.width, args)
    except OSError as exc:
        print(_one_line(f"malformed: cannot read {args.proof}: {exc.strerror}"))
        return EXIT_MALFORMED
    except (MalformedProof, SetupError) as exc:
        print(_one_line(f"malformed: {exc}"))
        return EXIT_MALFORMED
    if args.onchain:
        if root is not None and root != doc.root:
            print("invalid: the proof is for another root")
            return EXIT_INVALID
        return _verify_onchain(args, doc, scheme, pinned=root is not None)
    code = _verify_offchain(doc, scheme, root)
    if root is None:
        print(_unpinned_note(doc.root))
    return code


def _verify_offchain(doc: ProofDocument, scheme: KZG, root: bytes | None) -> int:
    try:
        verify_document(scheme, doc, root)
    except InvalidProof as exc:
        print(_one_line(f"invalid: {exc}"))
        return EXIT_INVALID
    except MalformedProof as exc:
        print(_one_line(f"malformed: {exc}"))
        return EXIT_MALFORMED
    present = sum(v is not None for v in doc.values)
    print(
        f"valid: {len(doc.keys)} keys ({present} present, {len(doc.keys) - present} absent) "
        f"under root {doc.root.hex()}"
    )
    return EXIT_VALID


def cmd_verifier(args: argparse.Namespace) -> int:
    from .contract import render_verifier, verifier_name

    record = SCHEMES[args.scheme]
    fork = record.check_fork(args.fork)  # refused before a setup is loaded
    scheme = _scheme(args.scheme, args.width, args)
    source = render_verifier(scheme, args.name, fork)
    out = Path(args.output or f"{args.name or verifier_name(scheme)}.sol")
    out.write_text(source)
    print(
        f"{args.name or verifier_name(scheme)} ({scheme.name}, width {scheme.width}, {fork.name} rules: "
        f"compile with evmVersion {record.evm_version(fork)}"
        f"{', uses CLZ' if record.uses_clz(fork) else ''}) -> {out}"
    )
    return 0


def cmd_deploy_verifier(args: argparse.Namespace) -> int:
    from .onchain import deploy_contract

    tree = _open(args)
    SCHEMES[tree.scheme.name].check_fork(args.fork)  # before a node is asked anything
    session = session_from_args(args)
    contract, tx = deploy_contract(session, tree.scheme, tree.root_commitment, fork=args.fork)
    where = args.rpc_url or "the embedded chain (gone when this command exits: use --rpc-url to keep it)"
    print(
        f"verifier ({tree.scheme.name}, width {tree.scheme.width}, {args.fork} rules) deployed at "
        f"{contract.address} on {where}"
    )
    print(f"it holds root {tree.root_commitment.hex()}")
    print(f"deploy gas {tx.gas_used:,} (the constructor checked every precompile its paths call)")
    return 0


def _verify_onchain(args: argparse.Namespace, doc: ProofDocument, scheme: KZG, pinned: bool) -> int:
    from .calldata import xy
    from .onchain import deploy_contract, verify_onchain

    SCHEMES[scheme.name].check_fork(args.fork)  # before a node is asked anything
    session = session_from_args(args)
    if args.verifier:
        contract, held = _existing_verifier(session, args.verifier, scheme, args.fork)
        if held not in (doc.root, xy(doc.root)):
            print(f"invalid: the verifier at {args.verifier} holds another root")
            print(f"verifier {contract.address} holds root {held.hex()}; the proof is for {doc.root.hex()}")
            return EXIT_INVALID
        where = f"verifier {contract.address} holds root {held.hex()} (the proof is checked against it)"
    else:
        contract, _ = deploy_contract(session, scheme, doc.root, fork=args.fork)
        where = f"verifier {contract.address} deployed holding root {doc.root.hex()}"
        if not pinned:
            where += " from the proof document itself (pass --root HEX to pin the root you trust)"
    path = args.path or default_path(doc).name
    try:
        result = verify_onchain(session, contract, doc, path, fork=args.fork)
    except MalformedProof as exc:  # no call can carry it (a point that does not decode)
        print(_one_line(f"malformed: {exc}"))
        return EXIT_MALFORMED
    state = "valid" if result.valid else "invalid"
    print(
        f"{state} on-chain ({path}, {contract.address}, {args.fork} rules): gas {result.gas:,}, "
        f"calldata {result.calldata_bytes:,} bytes"
        f", {result.gas // max(1, len(doc.keys)):,} gas per key"
    )
    print(where)
    return EXIT_VALID if result.valid else EXIT_INVALID


def _existing_verifier(session: Any, address: str, scheme: KZG, fork: str) -> tuple[Any, bytes]:
    """The verifier contract at `address` (the code this tool generates for ``fork``) and the root it
    holds (its `root()` view)."""
    from .contract import compile_verifier

    if not session.w3.is_address(address):
        raise ValueError(f"--verifier must be a 20-byte hex address, got {address!r}")
    code = bytes(session.w3.eth.get_code(session.w3.to_checksum_address(address)))
    if not code:
        raise ValueError(f"no contract at {address} on {session.description}")
    artifact = compile_verifier(scheme, fork=fork)
    if not artifact.runtime_matches(code):  # its answer would mean nothing: any contract can say true
        raise ValueError(
            f"the contract at {address} is not the verifier this tool generates for {scheme.name} "
            f"width {scheme.width}{' with this setup' if scheme.name == 'kzg-bn254' else ''} under "
            f"{fork} rules (its code differs; one deployed for another fork needs that --fork): its "
            "answer is not trusted"
        )
    contract = session.contract(address, artifact.abi)
    try:
        return contract, bytes(session.call(contract, "root"))
    except Exception as exc:  # noqa: BLE001 - any failure here means: not one of our verifiers
        raise ValueError(f"{address} is not a {scheme.name} verkle verifier ({type(exc).__name__})") from None


def cmd_estimate(args: argparse.Namespace) -> int:
    from . import gasmodel

    try:
        doc = read_document(args.proof)
    except OSError as exc:
        raise ValueError(f"cannot read {args.proof}: {exc.strerror}") from None
    fork = SCHEMES[doc.proof.scheme].check_fork(args.fork)
    paths = [PATHS[args.path]] if args.path else paths_for(doc.proof.scheme, doc.proof.type)
    report: dict[str, Any] = {}
    for path in paths or [default_path(doc)]:
        report[path.name] = gasmodel.estimate(gasmodel.shape_of(doc, path.name), fork=fork).to_json()
    if args.json:
        print(json.dumps({"fork": fork.to_json(), "paths": report}, indent=1))
        return 0
    cap = f"; the per-transaction cap is {fork.tx_gas_cap:,} (EIP-7825)" if fork.tx_gas_cap else ""
    print(f"{fork.name} rules{cap}")
    for path, r in report.items():
        over = (
            " (over the cap: no transaction can carry it)"
            if fork.tx_gas_cap and r["total"] > fork.tx_gas_cap
            else ""
        )
        print(f"{path}: {r['total']:,} gas predicted for {len(doc.keys)} keys{over}")
        for name, value in r["terms"].items():
            print(f"  {name:45s} {value:>12,}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(size=args.size, width=args.width, fork=args.fork)
    return 0


ONCHAIN_ONLY = ("embedded_max", "rpc_url", "fork", "bn254_size", "no_bn254")
SCALE_ONLY = ("changes", "workers", "cluster")


def embedded_max_type(text: str) -> int:
    """--embedded-max: LOG2 from 0 to 30, or off (-1: no tree is cross-checked)."""
    if text.strip().lower() == "off":
        return -1
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give LOG2 (0 to 30) or off") from None
    if not 0 <= value <= 30:
        raise argparse.ArgumentTypeError(f"{value} is out of range: give LOG2 (0 to 30) or off")
    return value


def _given(args: argparse.Namespace, names: Sequence[str]) -> list[str]:
    return [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) not in (None, False)]


def bench_plan(args: argparse.Namespace) -> BenchPlan:
    """The work the bench options select (an explicit option wins over --quick's choice)."""
    if args.scale and args.onchain:
        raise ValueError("--scale and --onchain are two different benches: pick one")
    if not args.onchain and _given(args, ONCHAIN_ONLY):
        raise ValueError(
            f"{', '.join(_given(args, ONCHAIN_ONLY))} applies to --onchain only (this bench has no chain)"
        )
    if not args.scale and _given(args, SCALE_ONLY):
        raise ValueError(f"{', '.join(_given(args, SCALE_ONLY))} applies to --scale only")
    if args.scale and args.keys is not None:
        raise ValueError("--scale proves one key from a cold open: --keys does not apply")
    if args.cluster:
        check_cluster_address(args.cluster)
    if args.scale:
        return make_plan(
            SCALE,
            quick=args.quick,
            sizes=args.sizes,
            widths=args.widths,
            seed=args.seed,
            changes=10_000 if args.changes is None else args.changes,
        )
    fork = get_fork(args.fork)
    bls_from = get_fork(SCHEMES["kzg-bls12-381"].min_fork).order
    return make_plan(
        ONCHAIN if args.onchain else OFFCHAIN,
        quick=args.quick,
        sizes=args.sizes,
        widths=args.widths,
        keys=args.keys,
        seed=args.seed,
        fork=fork.name if args.onchain else None,
        with_bls=fork.order >= bls_from,
        bn254_size=args.bn254_size,
        no_bn254=args.no_bn254,
        embedded_max=args.embedded_max,
        rpc=bool(args.rpc_url),
    )


def _kept(plan: BenchPlan, out: Path) -> set[tuple[Any, ...]]:
    """The rows --resume keeps from DIR, checked as the run will check them (a refusal shows in
    --dry-run too)."""
    if plan.mode == ONCHAIN:
        from .bench_onchain import kept_identities
    elif plan.mode == SCALE:
        from .bench_scale import kept_identities
    else:
        from .bench import kept_identities
    return kept_identities(plan, out)


def cmd_bench(args: argparse.Namespace) -> int:
    plan = bench_plan(args)
    out = Path(args.output)
    rates = Rates.load(out)
    kept: set[tuple[Any, ...]] = set()
    if args.resume:
        kept = _kept(plan, out)
    where = f", {get_fork(plan.fork).title} rules on {plan.chain}" if plan.mode == ONCHAIN else ""
    flag = {ONCHAIN: " --onchain", SCALE: " --scale"}.get(plan.mode, "")
    print(f"verkle bench{flag}: {os.cpu_count()} cores{where}")
    print(describe(plan, rates, kept))
    warning = bn254_warning(plan, rates)
    if warning:
        print(f"verkle: {warning}", file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing built, nothing written")
        return 0
    if not plan.row_keys():
        raise ValueError("the options select no measurement (see the notes above)")
    sys.stdout.flush()
    if plan.mode == ONCHAIN:
        from .bench_onchain import run_onchain_bench

        return run_onchain_bench(plan, out, rpc_url=args.rpc_url, resume=args.resume)
    if plan.mode == SCALE:
        from .bench_scale import run_scale_bench

        return run_scale_bench(plan, out, resume=args.resume, workers=args.workers, cluster=args.cluster)
    from .bench import run_bench

    return run_bench(plan, out, resume=args.resume)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verkle",
        description="A KZG Verkle tree (BLS12-381 with the Ethereum ceremony, or BN254 with a .ptau file) "
        "in one SQLite file: build, update, prove membership and non-membership of 32-byte keys "
        "(one key, or many in one multiproof), verify proofs, compare with a keccak Merkle tree.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "build",
        help="build a tree from a data file",
        description="Build a tree from DATA: CSV lines 'key,value' or JSON lines "
        '{"key": ..., "value": ...}, 32-byte hex each. A later line wins over '
        "an earlier one with the same key.",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", required=True, metavar="TREE", help="tree file to write (SQLite)")
    p.add_argument(
        "--scheme", choices=tuple(SCHEMES), default=DEFAULT_SCHEME, help=f"default {DEFAULT_SCHEME}"
    )
    p.add_argument(
        "--width",
        type=int,
        default=DEFAULT_WIDTH,
        help=f"children per node, a power of two from 16 to 4096 (default {DEFAULT_WIDTH})",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="local processes for the build (default: all cores)",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help="run the root's subtrees on a Dask cluster: local:N starts N worker processes here, any "
        "other ADDRESS is a running scheduler's (tcp://host:8786; every worker needs this package "
        "installed, and the same --ptau path)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_setup(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "update",
        help="apply a file of changes in one batch (sets and deletes)",
        description="Apply CHANGES to TREE in one pass: CSV lines 'key,value' set a key, 'key,' (empty "
        'value) deletes it; JSON lines {"key": ..., "value": ...} with null deletes. A key given twice '
        "takes its last change. Touched nodes are recommitted once each (one MSM over their changed "
        "slots), and everything is written in one transaction: the tree is the old one or the new one.",
    )
    p.add_argument("tree", metavar="TREE")
    p.add_argument("changes", metavar="CHANGES")
    _add_setup(p)
    p.set_defaults(func=cmd_update)

    p = sub.add_parser(
        "check",
        help="check a whole tree file against its leaves",
        description="Rebuild TREE from its own leaves (as a bulk build does, into a scratch file next to "
        "it; memory stays bounded) and compare every node commitment, the root and the size with the "
        "file. Other commands read only the nodes they walk, and `verkle prove` checks each proof it "
        "makes against the root.",
    )
    p.add_argument("tree", metavar="TREE")
    p.add_argument(
        "--workers", type=positive_int, default=None, help="local processes for the rebuild (default: all)"
    )
    _add_setup(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("insert", help="insert or update one key (homomorphic update of the path)")
    p.add_argument("tree", metavar="TREE")
    p.add_argument("key", metavar="KEY", help="32-byte hex")
    p.add_argument("value", metavar="VALUE", help="32-byte hex")
    _add_setup(p)
    p.set_defaults(func=cmd_insert)

    p = sub.add_parser("delete", help="delete one key (exit 1 when it is absent)")
    p.add_argument("tree", metavar="TREE")
    p.add_argument("key", metavar="KEY")
    _add_setup(p)
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("get", help="print a key's value (exit 1 when absent)")
    p.add_argument("tree", metavar="TREE")
    p.add_argument("key", metavar="KEY")
    _add_setup(p)
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("root", help="print the root commitment")
    p.add_argument("tree", metavar="TREE")
    p.add_argument("-v", "--verbose", action="store_true", help="also print scheme, width, size and setup")
    p.set_defaults(func=cmd_root)

    p = sub.add_parser(
        "prove",
        help="prove keys present or absent",
        description="Write a proof for the keys: a multiproof (one KZG proof for all "
        "openings) by default, or with --single one opening per level for one key. "
        "Absent keys get non-membership proofs.",
    )
    p.add_argument("tree", metavar="TREE")
    p.add_argument("keys", nargs="+", metavar="KEY")
    p.add_argument("-o", "--output", default="proof.json", metavar="PROOF", help="default proof.json")
    p.add_argument("--single", action="store_true", help="one opening per level (what 0x0a checks)")
    _add_setup(p)
    p.set_defaults(func=cmd_prove)

    p = sub.add_parser(
        "verify",
        help="verify a proof off-chain or on-chain (exit 0 valid, 1 invalid, 2 malformed, 3 not checked)",
        description="Verify PROOF (a `verkle prove` document, at most "
        f"{MAX_DOCUMENT_BYTES // 2**20} MiB) against its root, keys and claimed values. "
        "Without --root the document's own root is trusted, and a line says so. Exit "
        "status: 0 valid, 1 invalid (the reason is printed), 2 malformed input, 3 the on-chain check could "
        "not run (a node unreachable or of other rules, a transaction over what one may use): no verdict.",
    )
    p.add_argument("proof", metavar="PROOF")
    p.add_argument(
        "--root",
        metavar="HEX",
        help="the root you trust; the proof must be for it "
        "(default: the document's own root, reported as such)",
    )
    p.add_argument(
        "--onchain",
        action="store_true",
        help="verify with the generated Solidity verifier; prints gas. On the embedded chain (or with "
        "--rpc-url and no --verifier) a verifier holding the proof's root is deployed first",
    )
    p.add_argument("--verifier", metavar="ADDRESS", help="--onchain: use this deployed verifier")
    p.add_argument(
        "--path",
        choices=VERIFY_PATHS,
        help="--onchain: how to verify (default: msm-point-evaluation for BLS12-381 multiproofs, "
        "point-evaluation for single proofs, ecmul-pairing for BN254)",
    )
    add_chain_args(p, gas_limit=60_000_000)  # with --fork: --onchain's rules
    _add_setup(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "verifier",
        help="render the Solidity verifier for a scheme and width",
        description="Write the verifier contract (Solidity, rendered from Jinja templates) for a "
        "(scheme, width) pair. Its owner sets the root; view functions check proofs.",
    )
    p.add_argument(
        "--scheme", choices=tuple(SCHEMES), default=DEFAULT_SCHEME, help=f"default {DEFAULT_SCHEME}"
    )
    p.add_argument("--width", type=int, default=DEFAULT_WIDTH, help=f"node width (default {DEFAULT_WIDTH})")
    p.add_argument("--name", help="contract name (default VerkleVerifier<curve>W<width>)")
    p.add_argument("-o", "--output", metavar="FILE", help="default <name>.sol")
    add_fork_arg(p)
    _add_setup(p)
    p.set_defaults(func=cmd_verifier)

    p = sub.add_parser(
        "deploy-verifier",
        help="deploy a verifier holding a tree's root",
        description="Compile and deploy the verifier for TREE's scheme and width, holding its root "
        "(the deployer is the owner who may update it, and may hand ownership on in two "
        "steps: transferOwnership, then acceptOwnership by the new owner). Before "
        "deploying, every precompile the verifier calls is tried with a known answer; "
        "on a chain that lacks one (many L2s lack EIP-2537's BLS12-381 precompiles) the "
        "deployment is refused, naming it and the scheme that works there (kzg-bn254 "
        "needs only ecAdd, ecMul, ecPairing and MODEXP). The constructor makes the same "
        "check on its own.",
    )
    p.add_argument("tree", metavar="TREE")
    add_chain_args(p, gas_limit=60_000_000)
    _add_setup(p)
    p.set_defaults(func=cmd_deploy_verifier)

    p = sub.add_parser(
        "estimate",
        help="predict a proof's verification gas, term by term",
        description="The gas model under --fork's rules: its schedule (EIP-7623 calldata floor from Prague, "
        "EIP-2537, EIP-4844, MODEXP by EIP-2565 before Osaka and EIP-7883 in it, EIP-196/197 precompiles, "
        "memory) plus the verifier's opcode costs calibrated for that fork's bytecode.",
    )
    p.add_argument("proof", metavar="PROOF")
    p.add_argument(
        "--path", choices=VERIFY_PATHS, help="one path (default: every path the proof's type allows)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (the fork included)")
    add_fork_arg(p)
    p.set_defaults(func=cmd_estimate)

    off, on, quick_off, quick_on = (
        DEFAULTS[(OFFCHAIN, False)],
        DEFAULTS[(ONCHAIN, False)],
        DEFAULTS[(OFFCHAIN, True)],
        DEFAULTS[(ONCHAIN, True)],
    )
    p = sub.add_parser(
        "bench",
        help="measure builds, proofs and sizes (or verification gas) against a Merkle tree",
        description="Off-chain (default): build trees of random keys (kzg-bls12-381) and Merkle trees over "
        "the same pairs, time single proofs and multiproofs, compare proof bytes. --onchain: verification "
        "gas of every verifier path and of the Merkle twin, on anvil (or --rpc-url) and, for small trees, "
        "the embedded chain, beside the gas model. The run's plan and expected duration are printed "
        "first (--dry-run stops there); rows go to CSV one by one, so Ctrl-C keeps them and --resume "
        "continues; then tables, Markdown (and, on-chain, PNG plots). Progress bars with ETAs draw on "
        "a terminal.",
    )
    p.add_argument("-o", "--output", default="results", metavar="DIR", help="output folder (default results)")
    p.add_argument(
        "--sizes",
        default=None,
        metavar="LOG2,...",
        help=f"log2 of the tree sizes (default {shown(off.sizes)}; --onchain {shown(on.sizes)}; "
        f"--quick {shown(quick_off.sizes)})",
    )
    p.add_argument(
        "--widths",
        default=None,
        metavar="W,...",
        help=f"kzg-bls12-381 node widths, powers of two 16..4096 (default {shown(off.widths)}; --onchain "
        f"{shown(on.widths)}; --quick {shown(quick_off.widths)}, --onchain --quick {shown(quick_on.widths)})",
    )
    p.add_argument(
        "--keys",
        default=None,
        metavar="K,...",
        help=f"keys per multiproof (default {shown(off.keys)}; --onchain {shown(on.keys)}; --quick "
        f"{shown(quick_off.keys)}, --onchain --quick {shown(quick_on.keys)}); a count above a tree's "
        "size is left out of that tree, and the plan says so",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: the --quick defaults above (and --bn254-size "
        f"{quick_on.bn254_size}); options given explicitly still win",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the random keys and values (default 1)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (trees, key counts, paths, chains, rows) and its expected duration, then stop",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows an earlier (interrupted) run wrote to DIR's CSV and measure only the rest; "
        "refused if that run used another --seed, --fork or node. Without it an earlier CSV is moved to "
        "NAME.csv.prev",
    )
    p.add_argument(
        "--onchain",
        action="store_true",
        help="measure verification gas instead: every path and the Merkle baseline, on anvil (from npm) "
        "and, up to --embedded-max, the embedded chain; CSV, Markdown, PNG",
    )
    scale = DEFAULTS[(SCALE, False)]
    p.add_argument(
        "--scale",
        action="store_true",
        help=f"measure trees on disk instead: per size (default {shown(scale.sizes)}, width "
        f"{shown(scale.widths)}; --quick {shown(DEFAULTS[(SCALE, True)].sizes)}) a build straight to a "
        "file (keys/s), a proof from a cold open in a fresh process, one batch update (changes/s) and the "
        "peak memory, each size in its own process; then a projection to 10^9 keys on 64 cores",
    )
    p.add_argument(
        "--changes",
        type=positive_int,
        default=None,
        metavar="N",
        help="--scale: changes in the batch update (default 10,000: 70%% new values, 20%% new keys, "
        "10%% deletions)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="--scale: local build processes (default: all cores)",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help="--scale: build on a Dask cluster (local:N, or a scheduler address), as verkle build does",
    )
    p.add_argument(
        "--embedded-max",
        type=embedded_max_type,
        default=None,
        metavar="LOG2",
        help=f"--onchain: trees up to 2^LOG2 leaves are also verified on the embedded py-evm chain "
        f"(up to {EMBEDDED_MAX_KEYS} keys), to show the same gas as anvil (default 10; off: none; not with "
        "--rpc-url)",
    )
    p.add_argument(
        "--bn254-size",
        type=int_at_least(1, "at least 1 (log2 of the BN254 tree's size, up to 30)"),
        default=None,
        metavar="LOG2",
        help=f"--onchain: log2 of the one kzg-bn254 tree's size, width {BN254_WIDTH} (default "
        f"{on.bn254_size}; --quick {quick_on.bn254_size}). Its pure-Python build takes ~10 ms per leaf: "
        f"above 2^{BN254_WARN_LOG2} the bench warns with the expected time before it starts",
    )
    p.add_argument("--no-bn254", action="store_true", help="--onchain: skip the kzg-bn254 tree")
    p.add_argument(
        "--rpc-url",
        default=None,
        help="--onchain: use this node for everything (key from $ETH_PRIVATE_KEY; it must run --fork's "
        "rules)",
    )
    add_fork_arg(
        p,
        help=f"--onchain: the rules to compile for, run under (anvil --hardfork, the embedded chain) and "
        f"price with (default {DEFAULT_FORK}); BLS12-381 paths need prague or later",
    )
    p.set_defaults(fork=None)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "demo",
        help="a tree, a multiproof, the on-chain verifiers and the Merkle twin",
        description="Build a tree of random keys, prove present and absent keys in one multiproof, "
        "verify it off-chain and with the generated verifiers on the embedded chain "
        "(every path, gas beside the model's prediction), next to OpenZeppelin-style "
        "Merkle proofs of the same keys; then show a tampered proof refused.",
    )
    p.add_argument("--size", type=positive_int, default=4096, help="keys in the tree (default 4,096)")
    p.add_argument("--width", type=int, default=DEFAULT_WIDTH, help=f"node width (default {DEFAULT_WIDTH})")
    add_fork_arg(p)
    p.set_defaults(func=cmd_demo)
    return parser


def _unchecked(exc: BaseException) -> bool:
    """A chain that could not run the check (unreachable, other rules, no key, a transaction over what one
    may use, a verifier's PrecompileUnavailable / PrecompileOutOfGas): no verdict, and not malformed input.
    Other reverts are the verifier refusing the calldata: malformed."""
    if isinstance(exc, TransactionReverted):
        return (exc.reason or "").startswith(("PrecompileUnavailable", "PrecompileOutOfGas"))
    return isinstance(exc, ChainError)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        print(_one_line(f"verkle: error: {exc}"), file=sys.stderr)
        return EXIT_UNCHECKED if _unchecked(exc) else EXIT_MALFORMED
    except KeyboardInterrupt:
        print(
            "verkle: interrupted (tree files are written atomically: nothing half-written)", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
