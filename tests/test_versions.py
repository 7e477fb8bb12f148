"""Version counters (finding 5 of issue 11): a tensor and every alias of its memory (detach(),
views made by reshape, transpose or basic slicing, another Tensor made from it, `.data` through
the tensor's property) share one counter, as PyTorch's; a write through any of them into an
array a graph saved is reported at backward by a RuntimeError naming the op that saved it."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def graph_saving(b):
    """y = b * b: Mul saves b's array for its gradient."""
    return (b * b).sum()


WRITES = {
    "detach().mul_": lambda b: b.detach().mul_(0.0),
    "detach()[...] =": lambda b: b.detach().__setitem__(0, 5.0),
    "detach() +=": lambda b: b.detach().__iadd__(1.0),
    "reshape view": lambda b: b.detach().reshape(2, 2).fill_(0.0),
    "transpose view": lambda b: b.detach().reshape(2, 2).T.zero_(),
    "basic slice": lambda b: b.detach()[1:3].copy_(mg.tensor([9.0, 9.0])),
    "mg.tensor(t)": lambda b: mg.tensor(b.detach()).clamp_(0.0, 0.5),
    "t.data -= x": lambda b: setattr(b, "data", _isub(b.data)),
    "t.data = same memory": lambda b: setattr(b, "data", b.data.reshape(2, 2).reshape(4)),
    "np.add(t, 1, out=t)": lambda b: np.add(b.detach(), 1.0, out=b.detach()),
    "no_grad setitem": lambda b: _under_no_grad(lambda: b.__setitem__(0, 3.0)),
}


def _isub(array):
    array -= 1.0
    return array


def _under_no_grad(write):
    with mg.no_grad():
        write()


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_write_through_any_alias_into_a_saved_array_is_reported_at_backward(write):
    a = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    b = a.exp()
    loss = graph_saving(b)
    write(b)
    assert b._version == 1
    with pytest.raises(RuntimeError, match=r"Mul saved for its gradient was modified in place"):
        loss.backward()


def test_a_write_into_a_saved_output_is_reported():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    z = x.exp()  # Exp saves its output
    with mg.no_grad():
        z.detach()[1] = 0.0
    with pytest.raises(RuntimeError, match="Exp saved"):
        z.sum().backward()


def test_a_write_into_a_saved_input_through_a_view_of_a_leaf():
    w = mg.tensor(np.ones((2, 3)), requires_grad=True)
    x = mg.tensor(np.ones((3, 2)))
    loss = (w @ x).sum()  # MatMul saves w and x
    with mg.no_grad():
        w.T[0] += 1.0  # a view of w's memory
    with pytest.raises(RuntimeError, match="MatMul saved"):
        loss.backward()


def test_writes_that_no_saved_array_sees_are_allowed():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2.0  # Mul saves a and 2, not its output
    loss = (b + 1.0).sum()  # Add saves nothing
    b.detach().zero_()
    loss.backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])

    x = mg.tensor([5.0, 6.0], requires_grad=True)
    y = (x * x).sum()
    old = x.data
    x.data = np.zeros(2, dtype=np.float32)  # new memory: the saved array is intact
    x.data[0] = 1.0  # (a write into the new array, which no graph saved)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * old)


def test_aliases_share_one_counter():
    t = mg.tensor(np.zeros((2, 3)))
    aliases = [t.detach(), t.reshape(3, 2), t.T, t[0], t[:, 1:], mg.tensor(t), t.detach().detach()]
    t += 1
    assert all(alias._version == 1 for alias in aliases)
    aliases[2].mul_(2.0)
    assert t._version == 2 and all(alias._version == 2 for alias in aliases)
    copy = t[[0, 1]]  # integer indexing copies: its own memory, its own counter
    copy += 1
    assert t._version == 2 and copy._version == 1
