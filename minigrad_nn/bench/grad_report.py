"""The tables and plot of `minigrad bench grad` (`grad.run`'s rows)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .grad import DTYPE, EPS, FULL_BUDGET_S, PER_ELEMENT_TARGET
from .timing import markdown_table
from .timing import seconds as _s

__all__ = ["plot", "table"]


def _timed(r: dict[str, Any]) -> str:
    if not r["extrapolated"]:
        return f"all {r['parameters']:,}"
    return f"{r['numerical_elements_timed']:,} of {r['parameters']:,}, extrapolated"


def table(results: list[dict[str, Any]]) -> str:
    """The check (times, ratio, per-element cost), the per-parameter differences, the scaling."""
    check = [r for r in results if r["section"] == "check"]
    scaling = [r for r in results if r["section"] == "scaling"]
    parts = []
    if check:
        hidden = check[0]["hidden"]
        parts.append(
            f"TwoLayerNet 784-{hidden}-10 on MNIST, {np.dtype(DTYPE).name}, central differences "
            f"eps={EPS:g}. The last column times `mg.numerical_gradient` on runs of 20 elements "
            "against 40 loss evaluations, in the same interleaved rounds (fastest of each):\n\n"
            + markdown_table(
                [
                    "batch",
                    "backprop",
                    "numerical",
                    "numerical / backprop",
                    "numerical timed on",
                    "1 loss eval",
                    "numerical per element / 2 loss evals",
                ],
                [
                    (
                        r["batch"],
                        _s(r["backprop_s"]),
                        _s(r["numerical_s"]),
                        f"{r['ratio']:,.0f}x",
                        _timed(r),
                        _s(r["loss_eval_s"]),
                        f"{r['per_element_over_two_losses']:.3f} (<= {PER_ELEMENT_TARGET}: "
                        + ("met" if r["per_element_met"] else "NOT met")
                        + ")",
                    )
                    for r in check
                ],
            )
        )
        rows = [
            (
                r["batch"],
                f"{d['parameter']} ({d['book_name']})",
                f"{d['compared']:,}"
                + ("" if d["compared"] == d["elements"] else f" of {d['elements']:,}"),
                f"{d['mean_abs_diff']:.2e}",
                f"{d['max_abs_diff']:.2e}",
            )
            for r in check
            for d in r["diffs"]
        ]
        kinks = ", ".join(f"{r['relu_inputs_near_kink']} at batch {r['batch']}" for r in check)
        parts.append(
            "Backprop against the numerical gradient, per parameter. Hidden pre-activations "
            f"within eps of ReLU's kink: {kinks}; where there are some, the central difference "
            "straddles the kink for the weights feeding them, and fc1's max |diff| rises to the "
            "order of eps (an artefact of the numerical gradient, not an error of backprop):\n\n"
            + markdown_table(
                ["batch", "parameter", "elements compared", "mean |diff|", "max |diff|"], rows
            )
        )
    if scaling:
        parts.append(
            f"Scaling, batch {scaling[0]['batch']}: numerical time grows with the parameter count, "
            "backprop stays a forward and a backward pass (about two loss evaluations):\n\n"
            + markdown_table(
                [
                    "hidden",
                    "parameters",
                    "1 loss eval",
                    "backprop",
                    "backprop / loss eval",
                    "numerical",
                    "numerical / backprop",
                    "numerical per element / 2 loss evals",
                ],
                [
                    (
                        r["hidden"],
                        f"{r['parameters']:,}",
                        _s(r["loss_eval_s"]),
                        _s(r["backprop_s"]),
                        f"{r['backprop_over_forward']:.2f}x",
                        _s(r["numerical_s"]) + (" (extrapolated)" if r["extrapolated"] else ""),
                        f"{r['ratio']:,.0f}x",
                        f"{r['per_element_over_two_losses']:.3f}",
                    )
                    for r in scaling
                ],
            )
        )
    if any(r["extrapolated"] for r in results):
        parts.append(
            "Where marked extrapolated (--quick, or a full run whose estimate exceeded "
            f"{FULL_BUDGET_S:.0f} s), the numerical gradient was timed on a random subset of each "
            "parameter's elements and extrapolated to all of them; differences are over that "
            "subset."
        )
    return "\n\n".join(parts)


def plot(results: list[dict[str, Any]], path: str | os.PathLike) -> str | None:
    """Write a log-log PNG of backprop and numerical gradient time against the parameter count
    to `path` and return it; None without scaling rows. Needs matplotlib (the plot extra)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import NullFormatter
    except ImportError as err:
        raise ImportError(
            "the plot needs matplotlib: pip install 'minigrad-numpy[plot]'"
        ) from err
    rows = sorted((r for r in results if r["section"] == "scaling"), key=lambda r: r["parameters"])
    if not rows:
        return None
    n = [r["parameters"] for r in rows]
    fig = Figure(figsize=(6, 4.2), dpi=120, layout="tight")
    ax = fig.subplots()
    ax.loglog(n, [r["numerical_s"] for r in rows], "o-", label="numerical gradient")
    ax.loglog(n, [r["backprop_s"] for r in rows], "s-", label="backpropagation")
    ax.loglog(
        n, [r["loss_eval_s"] for r in rows], ":", color="gray", label="one forward pass (loss)"
    )
    for r in rows:
        ax.annotate(
            f"h={r['hidden']}" + (" (extrapolated)" if r["extrapolated"] else ""),
            (r["parameters"], r["numerical_s"]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(n, [f"{v:,}" for v in n], fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 4)  # room for the labels above the top curve
    ax.set_xlabel("parameters (784-h-10 net)")
    ax.set_ylabel("seconds per gradient")
    ax.set_title(f"Gradient of a 784-h-10 net, batch {rows[0]['batch']} (minigrad, float64)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(os.fspath(path), format="png")
    return os.fspath(path)
