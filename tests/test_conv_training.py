"""The CI-sized CNN check: the book's SimpleConvNet, one epoch on 10,000 real MNIST images kept as
(N, 1, 28, 28), must pass 95 % on the test set. The book's full runs (20 epochs, 98.8 % and more)
take long: benchmarks/train_recipes.py, docs/recipes.md."""

from __future__ import annotations

import pytest

from minigrad_nn import optim
from minigrad_nn.datasets import load_mnist
from minigrad_nn.losses import CrossEntropyLoss
from minigrad_nn.models import SimpleConvNet
from minigrad_nn.training import fit


def test_simple_conv_net_one_epoch_on_10000_images_passes_95_percent():
    (x_train, t_train), test = load_mnist(flatten=False)
    assert x_train.shape[1:] == (1, 28, 28)
    # He initialisation (the book's chapter 6 advice for ReLU) learns faster in one epoch than
    # the book's weight_init_std=0.01, which needs a few epochs to leave its plateau.
    model = SimpleConvNet(weight_init_std="he", seed=0)
    history = fit(
        model,
        CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=2e-3),
        (x_train[:10000], t_train[:10000]),
        test,
        epochs=1,
        batch_size=50,
        seed=0,
        progress=False,
        log=None,
    )
    assert history.iterations == [200]
    assert history.test_acc[-1] > 0.95, f"test accuracy {history.test_acc[-1]:.4f} after 1 epoch"


def test_minigrad_train_model_trains_the_books_cnns_on_images(monkeypatch, capsys):
    """`minigrad train --model simple-cnn|deep-cnn` builds the book's network and hands `fit`
    images of shape (N, 1, 28, 28); the default stays the MLP on flat rows."""
    from minigrad_nn import cli_train
    from minigrad_nn.cli import main
    from minigrad_nn.models import MLP, DeepConvNet

    class SeenError(Exception):
        pass

    seen = []

    def look(model, loss_fn, optimizer, train, test, **kwargs):
        seen.append((type(model), train[0].shape[1:], test[0].shape[1:]))
        raise SeenError

    monkeypatch.setattr(cli_train, "fit", look)
    for model in ("deep-cnn", "mlp"):
        with pytest.raises(SeenError):
            main(["train", "--model", model, "--limit", "100", "--epochs", "1", "--quiet"])
    assert seen == [
        (DeepConvNet, (1, 28, 28), (1, 28, 28)),
        (MLP, (784,), (784,)),
    ]
    assert "training DeepConvNet on mnist (100 train" in capsys.readouterr().out
