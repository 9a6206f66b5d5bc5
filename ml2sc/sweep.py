"""``ml2sc bench`` sweep: measured gas over a grid of MLPs, next to the gas model's prediction.

For every grid point (depth x width x inputs, every format and layout) it deploys, stores the
weights and runs one inference, reading gas from receipts; it writes CSV, a Markdown summary
(worst model error per function, fitted linear slopes next to ML2SC's published figures) and
PNG plots. Pure measurement plumbing; the model is ``ml2sc.gasmodel``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evmkit.chain import ChainSession
from evmkit.progress import bar, say
from evmkit.solc import Compiler

from . import gasmodel
from .bench import ML2SC_UPLOAD_PER_PARAM
from .layouts import LAYOUTS, LayoutError
from .onchain import compile_plan, deploy_and_upload, predict_onchain, split_gas, upload_chunk_slots
from .plan import FloatLayer, build_fixed_plan, encode_inputs
from .quant import build_int8_plan, calibrate

ML2SC_GAS_PER_HIDDEN_NEURON_30_INPUTS = 66_000


@dataclass(frozen=True)
class Point:
    series: str
    format: str
    layout: str
    architecture: str
    params: int
    macs: int
    hidden_neurons: int


@dataclass(frozen=True)
class Measurement(Point):
    """One function's gas at one grid point."""

    function: str  # deploy | upload | inference
    transactions: int
    measured: int
    predicted: int
    worst_tx_error: float  # the largest relative error of a single transaction in this function


def default_grid() -> Iterator[tuple[str, tuple[int, ...]]]:
    """Depth 1-4 hidden layers, widths 1-64, inputs 4-64; and ML2SC's 30-input series."""
    inputs = (4, 16, 64)
    for depth in (1, 2, 3, 4):
        for w, width in enumerate((1, 8, 32, 64)):
            n_in = inputs[(depth + w) % 3]
            yield "grid", (n_in, *([width] * depth), 10)
    for hidden in (1, 2, 4, 8, 16):
        yield "ml2sc-30", (30, hidden, 1)


def quick_grid() -> Iterator[tuple[str, tuple[int, ...]]]:
    for arch in ((4, 8, 10), (16, 32, 32, 10), (64, 1, 10)):
        yield "grid", arch


def _layers(arch: tuple[int, ...], seed: int) -> list[FloatLayer]:
    rng = np.random.default_rng(seed)
    sizes = list(zip(arch, arch[1:]))
    layers = []
    for i, (a, b) in enumerate(sizes):
        last = i == len(sizes) - 1
        act = ("sigmoid" if b == 1 else "none") if last else "relu"
        layers.append(FloatLayer(f"l{i}", rng.normal(0, 1 / a**0.5, (b, a)), rng.normal(0, 0.2, b), act))
    return layers


def run_sweep(
    session: ChainSession,
    compiler: Compiler,
    grid: list[tuple[str, tuple[int, ...]]],
    formats: tuple[str, ...] = ("fixed", "int8"),
    layouts: tuple[str, ...] = LAYOUTS,
    fork: str | None = None,
) -> list[Measurement]:
    """Every grid point compiled for ``fork`` (default: the session's rules) and measured on ``session``."""
    fork = fork or (session.fork.name if session.fork is not None else None)
    chunk = upload_chunk_slots(session)
    limit = session.gas_cap
    points = [
        (series, arch, f, lay)
        for series, arch in grid
        for f in formats
        for lay in layouts
        if not (series == "ml2sc-30" and (f, lay) != ("fixed", "storage"))
    ]
    out: list[Measurement] = []
    shown = bar(len(points), "sweep", "model")
    for series, arch, fmt, layout in points:
        layers = _layers(arch, seed=sum(arch))
        x = np.random.default_rng(len(arch)).normal(0, 1, (16, arch[0]))
        plan = build_fixed_plan(layers) if fmt == "fixed" else build_int8_plan(layers, calibrate(layers, x))
        label = "-".join(map(str, arch))
        shown.update()
        shown.set_postfix_str(f"{label} {fmt} {layout}", refresh=False)
        try:
            compiled = compile_plan(plan, "SweepMLP", "sweep.pt", layout, compiler, fork)
        except LayoutError:
            continue  # inline weights over the code-size limit: refused before deploying
        row = encode_inputs(plan, x[:1].tolist())[0]
        report = gasmodel.estimate(compiled, row, chunk)
        biggest = max([report.deploy.total, report.inference.total, *(e.total for _, e in report.upload)])
        if biggest > 0.98 * limit:
            say(
                f"  skipped {label} {fmt} {layout}: a transaction of ~{biggest:,} gas exceeds "
                f"{session.gas_cap_description(limit)} (a larger --gas-limit helps below Osaka's cap)"
            )
            continue
        contract, txs = deploy_and_upload(session, compiled)
        ((_, inference),) = predict_onchain(session, contract, plan, [row])
        predicted = dict(report.upload) | {"deploy": report.deploy}
        point = Point(
            series,
            fmt,
            layout,
            label,
            plan.n_params,
            plan.n_macs,
            sum(layer.n_out for layer in plan.layers[:-1]),
        )

        def errors(labels: list[str], predicted=predicted, txs=txs) -> float:
            return max(
                (abs(predicted[name].total - t.gas_used) / t.gas_used for name, t in txs if name in labels),
                default=0.0,
            )

        uploads = [label for label, _ in txs if label != "deploy"]
        deploy_gas, weights_gas = split_gas(txs)
        out.append(
            Measurement(
                **asdict(point),
                function="deploy",
                transactions=1,
                measured=deploy_gas,
                predicted=report.deploy.total,
                worst_tx_error=errors(["deploy"]),
            )
        )
        if uploads:
            out.append(
                Measurement(
                    **asdict(point),
                    function="upload",
                    transactions=len(uploads),
                    measured=weights_gas,
                    predicted=sum(e.total for _, e in report.upload),
                    worst_tx_error=errors(uploads),
                )
            )
        out.append(
            Measurement(
                **asdict(point),
                function="inference",
                transactions=1,
                measured=inference,
                predicted=report.inference.total,
                worst_tx_error=abs(report.inference.total - inference) / inference,
            )
        )
    shown.close()
    return out


def slopes(rows: list[Measurement]) -> list[tuple[str, str, str, float]]:
    """Least-squares gas per parameter (upload) and per multiply-accumulate (inference)."""
    result = []
    for fmt in sorted({r.format for r in rows}):
        for layout in LAYOUTS:
            grid = [r for r in rows if r.series == "grid" and r.format == fmt and r.layout == layout]
            for function, attr in (("upload", "params"), ("inference", "macs")):
                pts = [(getattr(r, attr), r.measured) for r in grid if r.function == function]
                if len(pts) >= 3:
                    slope = float(np.polyfit([p for p, _ in pts], [g for _, g in pts], 1)[0])
                    result.append(
                        (
                            fmt,
                            layout,
                            f"{function} gas per {'parameter' if attr == 'params' else 'MAC'}",
                            slope,
                        )
                    )
    series = [r for r in rows if r.series == "ml2sc-30" and r.function == "inference"]
    if len(series) >= 3:
        slope = float(np.polyfit([r.hidden_neurons for r in series], [r.measured for r in series], 1)[0])
        result.append(("fixed", "storage", "inference gas per hidden neuron (30 inputs)", slope))
    return result


def write_outputs(rows: list[Measurement], out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "ml2sc_sweep.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0]).keys()))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    lines = ["| function | points | worst transaction error | at |", "|---|---|---|---|"]
    for function in ("deploy", "upload", "inference"):
        subset = [r for r in rows if r.function == function]
        if not subset:
            lines.append(f"| {function} | 0 | - | (none in this sweep: inline weights need no upload) |")
            continue
        worst = max(subset, key=lambda r: r.worst_tx_error)
        lines.append(
            f"| {function} | {len(subset)} | {worst.worst_tx_error:.3%} | "
            f"{worst.architecture} {worst.format} {worst.layout} |"
        )
    lines += ["", "| format | layout | slope | measured | ML2SC |", "|---|---|---|---|---|"]
    for fmt, layout, name, value in slopes(rows):
        ref = ""
        if (fmt, layout) == ("fixed", "storage") and name.startswith("upload"):
            ref = f"{ML2SC_UPLOAD_PER_PARAM:,}"
        if "hidden neuron" in name:
            ref = f"{ML2SC_GAS_PER_HIDDEN_NEURON_30_INPUTS:,}"
        lines.append(f"| {fmt} | {layout} | {name} | {value:,.1f} | {ref} |")
    summary = "\n".join(lines)
    (out_dir / "ml2sc_sweep.md").write_text("# ml2sc gas sweep\n\n" + summary + "\n")
    plot(rows, out_dir)
    return summary


def plot(rows: list[Measurement], out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [r for r in rows if r.series == "grid"]
    combos = [(fmt, layout) for fmt in ("fixed", "int8") for layout in LAYOUTS]
    colors = {combo: plt.get_cmap("tab10")(i) for i, combo in enumerate(combos)}  # same in every panel
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    for ax, function in zip(axes, ("deploy", "upload", "inference")):
        for fmt, layout in combos:
            pts = sorted(
                (r.params, r.measured, r.predicted)
                for r in grid
                if r.function == function and r.format == fmt and r.layout == layout
            )
            if not pts:
                continue
            color = colors[(fmt, layout)]
            ax.plot([p for p, _, _ in pts], [q for _, _, q in pts], "-", lw=1, alpha=0.7, color=color)
            ax.plot(
                [p for p, _, _ in pts],
                [m for _, m, _ in pts],
                "o",
                ms=4,
                color=color,
                label=f"{fmt} {layout}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("gas (receipt)")
        ax.set_title(f"{function}: measured (dots), model (lines)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].set_title("upload (storage, packed: slots; code: data contracts)")
    fig.tight_layout()
    fig.savefig(out_dir / "ml2sc_gas_vs_params.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for marker, function in zip("o^s", ("deploy", "upload", "inference")):
        subset = [r for r in rows if r.function == function]
        ax.plot(
            [r.params for r in subset],
            [100 * (r.predicted - r.measured) / r.measured for r in subset],
            marker,
            ms=4,
            label=function,
            alpha=0.8,
        )
    ax.axhline(1, color="red", lw=0.8, ls="--")
    ax.axhline(-1, color="red", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("model error, % of measured")
    ax.set_title("gas model error per grid point (dashed: the 1% bar)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "ml2sc_model_error.png", dpi=110)
    plt.close(fig)
