"""The CI-sized accuracy check: one epoch on 10,000 real MNIST images must pass 90% on the test set.

The full recipes (97.0%, 97.4%, 98.5%) take minutes: benchmarks/train_recipes.py, docs/recipes.md.
"""

from __future__ import annotations

from minigrad_nn import optim
from minigrad_nn.datasets import load_mnist
from minigrad_nn.losses import CrossEntropyLoss
from minigrad_nn.models import MLP
from minigrad_nn.training import evaluate, fit


def test_one_epoch_on_10000_images_passes_90_percent():
    (x_train, t_train), test = load_mnist()
    model = MLP((784, 256, 10), seed=0)
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    history = fit(
        model,
        CrossEntropyLoss(),
        optimizer,
        (x_train[:10000], t_train[:10000]),
        test,
        epochs=1,
        batch_size=20,
        seed=0,
        progress=False,
        log=None,
    )
    assert history.iterations == [500]
    assert history.test_acc[-1] > 0.9, f"test accuracy {history.test_acc[-1]:.4f} after 1 epoch"
    assert evaluate(model, test) == history.test_acc[-1]
