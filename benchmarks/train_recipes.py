"""The long accuracy runs behind docs/recipes.md (minutes each; not run in CI).

Each MLP recipe is a `minigrad train` command line, run in this process through the CLI's own
code, so the documented commands reproduce the figures. The CNN recipes (the book's chapters 7
and 8) build `models.SimpleConvNet` / `models.DeepConvNet` and call `nn.fit`, which is what the
CLI's training runs too. Usage:

    python benchmarks/train_recipes.py                 # every MLP recipe, seed 0
    python benchmarks/train_recipes.py seed adam --seeds 0 1 2 --json results.json
    python benchmarks/train_recipes.py simple-cnn --seeds 0 1 --log run.log   # CNNs: long

Prints each run's epoch lines, then a table: recipe, seed, final and best test accuracy, target,
wall time. Exits 1 when a run misses its target.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minigrad_nn as nn
from minigrad_nn import optim
from minigrad_nn.cli import build_parser, run_training
from minigrad_nn.models import DeepConvNet, SimpleConvNet

#: name -> (minigrad train arguments, test accuracy to reach)
RECIPES: dict[str, tuple[str, float]] = {
    "seed": ("--hidden 50 --optimizer sgd --lr 0.1 --batch-size 100 --iters 10000", 0.970),
    "adam": ("--hidden 100 100 --optimizer adam --lr 0.001 --batch-size 100 --epochs 5", 0.974),
    "best": (
        "--hidden 1024 1024 --dropout 0.2 --optimizer adam --lr 0.001 --scheduler cosine "
        "--batch-size 100 --epochs 20",
        0.985,
    ),
}


#: name -> (model, dataset, epochs, test accuracy to reach). Adam lr 1e-3, batch 100, images kept
#: as (N, 1, 28, 28); the book trains both networks this way for 20 epochs.
CNN_RECIPES: dict[str, tuple[type[nn.Module], str, int, float]] = {
    "simple-cnn": (SimpleConvNet, "mnist", 20, 0.988),
    "deep-cnn": (DeepConvNet, "mnist", 20, 0.993),
    "fashion-cnn": (DeepConvNet, "fashion-mnist", 20, 0.92),
}


def run_cnn(name: str, seed: int, epochs: int | None = None, log=print) -> dict:
    """Train one CNN recipe with one seed (`epochs` overrides the recipe's); its figures."""
    model_class, dataset, default_epochs, target = CNN_RECIPES[name]
    epochs = default_epochs if epochs is None else epochs
    load = nn.load_mnist if dataset == "mnist" else nn.load_fashion_mnist
    train, test = load(flatten=False)
    model = model_class(seed=seed)
    command = (
        f"{model_class.__name__}(seed={seed}) on {dataset}: Adam lr 1e-3, batch 100, "
        f"{epochs} epochs"
    )
    print(f"\n== {name}, seed {seed}: {command}", flush=True)
    start = time.perf_counter()
    history = nn.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-3),
        train,
        test,
        epochs=epochs,
        batch_size=100,
        seed=seed,
        progress=False,
        log=log,
    )
    return {
        "recipe": name,
        "seed": seed,
        "command": command,
        "test_acc": history.test_acc[-1],
        "best_test_acc": max(history.test_acc),
        "train_acc": history.train_acc[-1],
        "target": target,
        "seconds": round(time.perf_counter() - start, 1),
        "epochs": history.epochs,
        "iterations": history.iterations[-1],
        "epoch_seconds": [round(s, 2) for s in history.seconds],
        "test_acc_per_epoch": history.test_acc,
    }


def run(name: str, seed: int) -> dict:
    """Train one recipe with one seed; the run's figures as a dict."""
    if name in CNN_RECIPES:
        return run_cnn(name, seed)
    command, target = RECIPES[name]
    arguments = shlex.split(command)
    args = build_parser().parse_args(["train", *arguments, "--seed", str(seed), "--quiet"])
    print(
        f"\n== {name}, seed {seed}: minigrad train {' '.join(arguments)} --seed {seed}", flush=True
    )
    start = time.perf_counter()
    _, history, _ = run_training(args)
    seconds = time.perf_counter() - start
    return {
        "recipe": name,
        "seed": seed,
        "command": f"minigrad train {' '.join(arguments)}",
        "test_acc": history.test_acc[-1],
        "best_test_acc": max(history.test_acc),
        "train_acc": history.train_acc[-1],
        "target": target,
        "seconds": round(seconds, 1),
        "epochs": history.epochs,
        "iterations": history.iterations[-1],
        "epoch_seconds": [round(s, 2) for s in history.seconds],
        "test_acc_per_epoch": history.test_acc,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "recipes",
        nargs="*",
        metavar="RECIPE",
        help=f"some of {', '.join([*RECIPES, *CNN_RECIPES])} (default: the MLP recipes)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default: 0)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--epochs", type=int, help="CNN recipes: epochs instead of the recipe's")
    args = parser.parse_args()
    unknown = [name for name in args.recipes if name not in RECIPES and name not in CNN_RECIPES]
    if unknown:
        known = ", ".join([*RECIPES, *CNN_RECIPES])
        parser.error(f"unknown recipe {unknown[0]!r}: choose from {known}")
    results = []
    for name in args.recipes or RECIPES:
        for seed in args.seeds:
            if name in CNN_RECIPES:
                results.append(run_cnn(name, seed, args.epochs, log=lambda s: print(s, flush=True)))
            else:
                results.append(run(name, seed))
    print("\n| recipe | seed | test acc | best | target | train acc | wall time |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['recipe']} | {r['seed']} | {r['test_acc']:.4f} | {r['best_test_acc']:.4f} "
            f"| {r['target']} | {r['train_acc']:.4f} | {r['seconds']:.0f} s |"
        )
    if args.json:
        record = {
            "machine": platform.platform(),
            "python": platform.python_version(),
            "results": results,
        }
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return 0 if all(r["test_acc"] >= r["target"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
