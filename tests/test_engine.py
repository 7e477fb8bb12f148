"""The engine: how gradients flow and accumulate, what backward frees, the errors it gives,
gradients of gradients, grad modes, hooks, anomaly detection, in-place checks, memory, and
the aliasing rules of the gradient buffer."""

from __future__ import annotations

import gc
import sys
import threading
import time
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest
from gradcheck_table import graph_functions

import minigrad as mg

HERE = Path(__file__).name


# -- how gradients flow ---------------------------------------------------------------------------


def test_a_tensor_used_several_times_gets_the_sum_of_all_paths():
    x = mg.tensor(3.0, dtype=np.float64, requires_grad=True)
    (x * x + x).backward()  # reuse: d/dx (x² + x) = 2x + 1
    assert x.grad.item() == 7.0

    x.grad = None
    a, b = x * 2, x * 3  # a diamond: c = (2x)(3x) = 6x², dc/dx = 12x
    (a * b).backward()
    assert x.grad.item() == 36.0

    x.grad = None
    y = x.exp()
    (y * y.log() + y).backward()  # y·ln y + y = x·eˣ + eˣ: derivative (x + 2)·eˣ
    np.testing.assert_allclose(x.grad.item(), 5 * np.exp(3.0))


def test_gradients_accumulate_into_leaves_until_zeroed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3 + 2, 3 + 4])
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3, 3])


def test_non_leaf_grad_is_kept_only_with_retain_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    k = h + 1
    k.retain_grad()
    x.retain_grad()  # a leaf keeps its gradient anyway
    (k * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad.data, 2 * k.data)
    np.testing.assert_array_equal(x.grad.data, 2 * 2 * k.data)
    assert not x.grad.requires_grad and not k.grad.requires_grad


def test_tensors_without_requires_grad_get_no_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    assert not (c * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        (c * 2).sum().backward()


def test_a_chain_of_100000_ops_needs_no_recursion():
    assert sys.getrecursionlimit() <= 10_000  # the default limit (pytest does not raise it)
    x = mg.tensor(1.0, dtype=np.float64, requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(100_000):
        y = y * 1.000001
    y.backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad.item(), 1.000001**100_000, rtol=1e-9)
    del y
    gc.collect()  # dropping the deep graph must not recurse either
    assert elapsed < 20  # about 2 s on an idle 2-core machine: this only catches a blow-up


# -- freeing the graph ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forward", [lambda x: (x * x).sum(), lambda x: (x + x).sum(), lambda x: x.exp().mean()]
)
def test_a_second_backward_through_a_freed_graph_raises(forward):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = forward(x)
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * 2 * x.data)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_frees_the_saved_arrays():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.ones((3, 2)), requires_grad=True)
    loss = ((x @ w).tanh() * x.sum(axis=1, keepdims=True)).exp().mean()
    functions = graph_functions(loss)
    assert len(functions) == 6
    loss.backward()
    assert all(fn._saved is None for fn in functions)


# -- errors ----------------------------------------------------------------------------------------


def test_backward_of_a_non_scalar_needs_grad():
    y = mg.tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))  # fine with grad=
    mg.tensor([[5.0]], requires_grad=True).backward()  # one element: fine


@pytest.mark.parametrize(
    ("make", "shapes"),
    [
        (lambda: mg.ones(2, 3) @ mg.ones(4, 5), ("(2, 3)", "(4, 5)")),
        (lambda: mg.ones(3) @ mg.ones(4), ("(3,)", "(4,)")),
        (lambda: mg.ones(2, 2, 3) @ mg.ones(3, 3, 4), ("(2, 2, 3)", "(3, 3, 4)")),
        (lambda: mg.ones(2, 3) + mg.ones(4), ("(2,3)", "(4,)")),
        (lambda: mg.ones(2, 3) * np.ones((3, 2)), ("(2,3)", "(3,2)")),
        (lambda: mg.ones(2, 3).reshape(4, 2), ("(2, 3)", "(4, 2)")),
        (lambda: mg.ones(3).broadcast_to(2, 4), ("shape (3,) to shape (2, 4)",)),
        (lambda: mg.ones(3).expand(1), ("shape (3,) to shape (1,)",)),
        (lambda: mg.ones(2, 3).expand(4, 3, 3), ("shape (2, 3) to shape (4, 3, 3)",)),
    ],
)
def test_shape_errors_name_both_shapes(make, shapes):
    """The message names both shapes (NumPy's wording is fine for elementwise broadcasting)."""
    with pytest.raises(ValueError) as info:
        make()
    for shape in shapes:
        assert shape in str(info.value)


# -- gradients of gradients -----------------------------------------------------------------------


def test_second_and_third_derivatives_of_x_cubed():
    x = mg.tensor([1.0, -2.0, 3.0], dtype=np.float64, requires_grad=True)
    (dx,) = mg.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(dx.data, 3 * x.data**2)
    assert dx.requires_grad and x.grad is None
    (d2x,) = mg.grad(dx.sum(), x, create_graph=True)
    np.testing.assert_allclose(d2x.data, 6 * x.data)
    (d3x,) = mg.grad(d2x.sum(), x)
    np.testing.assert_allclose(d3x.data, [6.0, 6.0, 6.0])
    assert x.grad is None


@pytest.mark.parametrize(
    ("f", "second"),
    [
        (mg.exp, np.exp),
        (mg.sqrt, lambda x: -0.25 * x**-1.5),
        (mg.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        (lambda x: 1.5**x, lambda x: np.log(1.5) ** 2 * 1.5**x),
    ],
)
def test_second_derivative_of_an_op_that_saves_its_0d_output(f, second):
    x = mg.tensor(0.7, dtype=np.float64, requires_grad=True)
    (g,) = mg.grad(f(x), x, create_graph=True)
    assert g.requires_grad
    (h,) = mg.grad(g, x)
    np.testing.assert_allclose(h.item(), second(0.7), rtol=1e-12)


def test_backward_with_create_graph_then_backward_of_the_gradient():
    x = mg.tensor(2.0, dtype=np.float64, requires_grad=True)
    (x**3).backward(create_graph=True)
    first = x.grad
    assert first.item() == 12.0 and first.requires_grad
    x.grad = None
    first.backward()
    assert x.grad.item() == 12.0  # d/dx 3x² = 6x


@pytest.mark.parametrize(
    "f",
    [
        lambda x: (x.sigmoid() * x.tanh()).sum(),
        lambda x: (x.exp() / (1 + x * x)).sum(),
        lambda x: mg.logsumexp(x * x, axis=0).sum(),
        lambda x: (x.sqrt() * x.log()).sum(),
        lambda x: (x[[0, 0, 1]] ** 2).sum() * x.max(),
        lambda x: (mg.maximum(x, 1.5) ** 2 + x.clip(0.0, 2.0) ** 3).sum(),
        lambda x: (mg.stack([x, x * x]) @ x.reshape(3, 1)).sum() ** 2,
    ],
)
def test_hessian_diagonal_matches_finite_differences(f):
    """Row i of the Hessian by double backward vs central differences of the gradient."""
    x0 = np.array([0.7, 1.2, 2.1])
    x = mg.tensor(x0, requires_grad=True)
    (g,) = mg.grad(f(x), x, create_graph=True)
    eps = 1e-6
    for i in range(3):
        (row,) = mg.grad(g[i], x, retain_graph=True, allow_unused=True)
        row = np.zeros(3) if row is None else row.data
        shifted = []
        for sign in (1, -1):
            xs = mg.tensor(x0 + sign * eps * np.eye(3)[i], requires_grad=True)
            shifted.append(mg.grad(f(xs), xs)[0].data)
        np.testing.assert_allclose(row, (shifted[0] - shifted[1]) / (2 * eps), rtol=1e-5, atol=1e-6)


def mlp_loss(params, x, t):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).tanh()
    y = h @ w2 + b2
    return ((y - t) ** 2).mean() + (h.sigmoid() * 0.1).sum()


def test_hessian_vector_product_of_an_mlp_matches_finite_differences():
    rng = np.random.default_rng(0)
    shapes = [(4, 5), (5,), (5, 3), (3,)]
    theta = [rng.standard_normal(s) for s in shapes]
    v = [rng.standard_normal(s) for s in shapes]
    x, t = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))

    def gradient(arrays):
        params = [mg.tensor(a, requires_grad=True) for a in arrays]
        return [g.data for g in mg.grad(mlp_loss(params, x, t), params)]

    params = [mg.tensor(a, requires_grad=True) for a in theta]
    grads = mg.grad(mlp_loss(params, x, t), params, create_graph=True)
    dot = sum((g * vi).sum() for g, vi in zip(grads, v, strict=True))
    hvp = mg.grad(dot, params)
    assert all(p.grad is None for p in params)

    eps = 1e-5
    plus = gradient([a + eps * vi for a, vi in zip(theta, v, strict=True)])
    minus = gradient([a - eps * vi for a, vi in zip(theta, v, strict=True)])
    for h, p, m, p_ in zip(hvp, plus, minus, params, strict=True):
        assert h.shape == p_.shape and h.dtype == np.float64
        np.testing.assert_allclose(h.data, (p - m) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_grad_returns_gradients_without_touching_dot_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0, 4.0], requires_grad=True)
    x.grad = mg.tensor([100.0, 100.0])
    out = x * y
    gx, gy = mg.grad(out, [x, y], grad_outputs=mg.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(gx.data, [3.0, 40.0])
    np.testing.assert_array_equal(gy.data, [1.0, 20.0])
    np.testing.assert_array_equal(x.grad.data, [100.0, 100.0])
    assert y.grad is None
    with pytest.raises(RuntimeError, match="retain_graph"):  # retain_graph defaults to False
        mg.grad(out, x, grad_outputs=np.ones(2))

    z = mg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        mg.grad((x * 2).sum(), [x, z])
    gx, gz = mg.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.grad((x * 2).sum(), mg.tensor(1.0))


def test_grad_of_an_intermediate_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gh,) = mg.grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    assert x.grad is None


@pytest.mark.parametrize(
    "constant",
    [
        lambda x: x.detach(),
        lambda x: mg.tensor(x),  # shares x's array too
        lambda x: mg.tensor(x.data),
    ],
)
def test_a_constant_sharing_the_inputs_array_stays_constant_in_gradients_of_gradients(constant):
    x = mg.tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    c = constant(x)
    assert np.shares_memory(c.data, x.data)
    (g,) = mg.grad((x * c).sum(), x, create_graph=True)  # d/dx (x·c) = c, a constant
    np.testing.assert_array_equal(g.data, [3.0, 4.0])
    assert not g.requires_grad
    (g,) = mg.grad((c * x * x).sum(), x, create_graph=True)  # 2·c·x: d/dx again gives 2c
    (h,) = mg.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [6.0, 8.0])


def test_two_leaves_sharing_one_array_get_their_own_second_derivatives():
    data = np.array([3.0, 4.0])
    a = mg.tensor(data, requires_grad=True)
    b = mg.tensor(data, requires_grad=True)
    ga, gb = mg.grad((a * b).sum(), [a, b], create_graph=True)  # b and a
    h_aa, h_ab = mg.grad(ga.sum(), [a, b], allow_unused=True)
    assert h_aa is None
    np.testing.assert_array_equal(h_ab.data, [1.0, 1.0])
    h_ba, h_bb = mg.grad(gb.sum(), [a, b], allow_unused=True)
    np.testing.assert_array_equal(h_ba.data, [1.0, 1.0])
    assert h_bb is None


# -- grad modes ------------------------------------------------------------------------------------


def test_no_grad_and_enable_grad_nest():
    x = mg.tensor([1.0], requires_grad=True)
    assert mg.is_grad_enabled()
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        assert not (x * 2).requires_grad
        with mg.enable_grad():
            assert mg.is_grad_enabled()
            assert (x * 2).requires_grad
            with mg.no_grad():
                assert not mg.is_grad_enabled()
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    with mg.set_grad_enabled(False):
        assert not mg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_as_a_decorator_restores_the_mode_even_on_errors():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.no_grad()
    def predict(t):
        assert not mg.is_grad_enabled()
        return t * 2

    @mg.no_grad()
    def fail():
        raise KeyError("boom")

    assert not predict(x).requires_grad
    assert mg.is_grad_enabled()
    assert not predict(predict(x)).requires_grad  # reentrant
    with pytest.raises(KeyError):
        fail()
    assert mg.is_grad_enabled()

    @mg.enable_grad()
    def train_step(t):
        return t * 2

    with mg.no_grad():
        assert train_step(x).requires_grad
        assert not mg.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with mg.no_grad():
        worker = threading.Thread(target=lambda: seen.append(mg.is_grad_enabled()))
        worker.start()
        worker.join()
        assert not mg.is_grad_enabled()
    assert seen == [True]


def test_a_no_grad_decorated_function_used_by_two_threads_at_once():
    """Each call must restore its own thread's mode, whatever the other thread does."""
    a_entered, b_entered, a_exited = threading.Event(), threading.Event(), threading.Event()
    result = {}

    @mg.no_grad()
    def work(entered, wait_for):
        entered.set()
        wait_for.wait(5)

    def thread_a():  # grad on; enters first, leaves while B is still inside
        work(a_entered, b_entered)
        result["a"] = mg.is_grad_enabled()
        a_exited.set()

    def thread_b():  # grad off around the call; enters second, leaves last
        a_entered.wait(5)
        with mg.no_grad():
            work(b_entered, a_exited)
            result["b_inside"] = mg.is_grad_enabled()
        result["b"] = mg.is_grad_enabled()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert result == {"a": True, "b_inside": False, "b": True}


def test_grad_mode_is_per_asyncio_task():
    """A task waiting inside no_grad does not turn recording off for another task."""
    import asyncio

    async def inference(started, resume):
        with mg.no_grad():
            started.set()
            await resume.wait()
            return mg.is_grad_enabled()

    async def training(started, resume):
        await started.wait()
        x = mg.tensor([1.0], requires_grad=True)
        recorded = (x * 2).requires_grad
        resume.set()
        return recorded

    async def main():
        started, resume = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(inference(started, resume), training(started, resume))

    assert asyncio.run(main()) == [False, True]
    assert mg.is_grad_enabled()


# -- detach, requires_grad_, hooks --------------------------------------------------------------


def test_detach_stops_the_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x.detach()  # the second factor is a constant
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])


def test_requires_grad_underscore_starts_tracking():
    x = mg.tensor([1.0, 2.0])
    (x * 2).sum()  # not tracked
    x.requires_grad_()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_hooks_see_and_may_replace_the_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = h.register_hook(lambda g: g * 10)
    leaf_handle = x.register_hook(lambda g: g + 1)
    h.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    assert isinstance(seen, list) and len(seen) == 1
    np.testing.assert_array_equal(x.grad.data, [31.0, 31.0])

    handle.remove()
    leaf_handle.remove()
    handle.remove()  # removing twice is harmless
    x.grad = None
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert len(seen) == 2

    with pytest.raises(RuntimeError, match="shape"):
        y = x * 2
        y.register_hook(lambda g: mg.ones(5))
        y.sum().backward()
    with pytest.raises(RuntimeError):
        mg.tensor([1.0]).register_hook(print)


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_hook_returning_an_ndarray_of_another_dtype(create_graph):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: np.asarray(g, dtype=np.float64) * 2)
    (x * 1).sum().backward(create_graph=create_graph)
    assert isinstance(x.grad, mg.Tensor)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_hooks_under_create_graph_see_graph_tensors():
    x = mg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x * x
    handle = y.register_hook(lambda g: g * y)  # depends on x: it is differentiated too
    (g,) = mg.grad(y.sum(), x, create_graph=True)  # 2x · x² = 2x³
    np.testing.assert_array_equal(g.data, [2.0, 16.0])
    handle.remove()  # (it would run again on the gradient reaching y in the second pass)
    (h,) = mg.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [6.0, 24.0])


def test_a_post_accumulate_hook_runs_once_as_soon_as_the_leafs_grad_is_complete():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w1 = mg.tensor([3.0, 3.0], requires_grad=True)
    w2 = mg.tensor([2.0, 5.0], requires_grad=True)
    events = []
    w2.register_post_accumulate_grad_hook(lambda p: events.append(("w2", p.grad.numpy().copy())))
    w1.register_post_accumulate_grad_hook(lambda p: events.append(("w1", p.grad.numpy().copy())))
    h = x * w1
    h.register_hook(lambda g: events.append(("h", None)))
    y = h * w2 + h * w2 * w2  # w2 is used three times: its hook waits for all three
    y.sum().backward()
    assert [name for name, _ in events] == ["w2", "h", "w1"]  # w2's hook ran before h's rule
    np.testing.assert_array_equal(events[0][1], w2.grad.numpy())  # the complete gradient
    np.testing.assert_array_equal(w2.grad.numpy(), (x * w1 * (1 + 2 * w2)).numpy())
    np.testing.assert_array_equal(events[2][1], w1.grad.numpy())


def test_post_accumulate_hooks_see_accumulated_grads_and_can_be_removed():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    registered = mg.hooks.post_accumulate_registered
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    assert mg.hooks.post_accumulate_registered == registered + 1
    (w * 2).sum().backward()
    (w * 3).sum().backward()  # no zero_grad: the hook sees the sum of both
    np.testing.assert_array_equal(seen[1], [5.0, 5.0])
    w.backward(mg.tensor([1.0, 1.0]))  # the leaf itself as the output
    np.testing.assert_array_equal(seen[2], [6.0, 6.0])
    mg.grad((w * 2).sum(), w)  # mg.grad does not touch .grad: no hook
    assert len(seen) == 3
    handle.remove()
    handle.remove()
    assert mg.hooks.post_accumulate_registered == registered
    (w * 2).sum().backward()
    assert len(seen) == 3


def test_a_post_accumulate_hook_waits_for_uses_whose_op_never_ran():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))

    class GivesNoGradient(mg.Function):
        def forward(self, a):
            return a.copy()

        def backward(self, grad):
            return (None,)

    # w has two uses, and the op of one (w * 3) never runs: no gradient reaches its output
    (GivesNoGradient.apply(w * 3) + w * 2).sum().backward()
    np.testing.assert_array_equal(seen, [[2.0, 2.0]])  # run once, at the end
    (GivesNoGradient.apply(w * 3)).sum().backward()
    assert len(seen) == 1  # nothing reached w: no hook


@pytest.mark.parametrize("create_graph", [False, True])
def test_post_accumulate_hooks_refuse_what_they_cannot_do(create_graph):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_post_accumulate_grad_hook(print)
    handle = x.register_post_accumulate_grad_hook(lambda p: p.grad * 2)
    with pytest.raises(RuntimeError, match="must return None"):
        (x * x).sum().backward(create_graph=create_graph)
    handle.remove()


# -- anomaly detection ----------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_and_the_line_of_a_nan_in_forward():
    x = mg.tensor([-1.0, 1.0], requires_grad=True)
    with (
        np.errstate(invalid="ignore"),
        mg.detect_anomaly(),
        pytest.raises(mg.AnomalyError) as info,
    ):
        line = sys._getframe().f_lineno + 1
        x.log()
    message = str(info.value)
    assert "Log" in message and "NaN" in message and "forward" in message
    assert f"{HERE}:{line}" in message
    with np.errstate(invalid="ignore"):
        x.log()  # without detect_anomaly: no error


def test_detect_anomaly_names_the_op_and_the_line_of_an_inf_in_backward():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with (
        np.errstate(divide="ignore"),
        mg.detect_anomaly(),
        pytest.raises(mg.AnomalyError) as info,
    ):
        line = sys._getframe().f_lineno + 1
        y = x.sqrt()
        (y * 2).sum().backward()
    message = str(info.value)
    assert "Sqrt" in message and "inf" in message and "backward" in message
    assert f"{HERE}:{line}" in message


def test_detect_anomaly_around_backward_only_still_names_the_op():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    y = x.sqrt()
    with np.errstate(divide="ignore"), mg.detect_anomaly(), pytest.raises(mg.AnomalyError) as info:
        y.sum().backward()
    assert "Sqrt" in str(info.value) and "forward pass under detect_anomaly" in str(info.value)


def test_detect_anomaly_is_restored_and_quiet_on_finite_values():
    with mg.detect_anomaly():
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        (x.log() * x).sum().backward()
    with np.errstate(divide="ignore"):
        mg.tensor([0.0]).log()  # -inf, but anomaly mode is off again


def test_detect_anomaly_is_one_switch_for_every_thread():
    """As PyTorch's anomaly mode: while it is on, ops in other threads are checked too."""
    errors: list[Exception] = []

    def work() -> None:
        try:
            with np.errstate(divide="ignore"):
                mg.tensor([0.0], requires_grad=True).log()
        except mg.AnomalyError as error:
            errors.append(error)

    with mg.detect_anomaly():
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "Log" in str(errors[0])
    work()  # off again
    assert len(errors) == 1


# -- in-place changes ------------------------------------------------------------------------------


def test_changing_a_saved_input_in_place_is_caught_at_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    x.data += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_changing_a_saved_constant_or_output_in_place_is_caught():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])
    y = x * c
    c[0] = 10.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()

    z = x.exp()
    with mg.no_grad():
        z[1] = 0.0
    with pytest.raises(RuntimeError, match="modified in place"):
        z.sum().backward()


def test_changes_that_backward_does_not_depend_on_are_allowed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x + 1  # Add saves nothing
    x.data += 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])

    x.data = np.array([5.0, 6.0], dtype=np.float32)  # a new array: the saved one is intact
    z = x * x
    w = z * 2
    x.data = np.zeros(2, dtype=np.float32)
    w.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1 + 20.0, 1 + 24.0])


def test_item_assignment_on_a_tensor_requiring_grad_raises_in_grad_mode():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x[0] = 5.0
    with mg.no_grad():
        x[0] = 5.0
    assert x.data[0] == 5.0


# -- memory ----------------------------------------------------------------------------------------


def test_a_rules_gradients_are_freed_before_the_next_rule_runs():
    """A leaf's gradient is copied into .grad; the array its rule returned must not stay alive
    while the next rule runs (it would raise the peak memory of a backward by a layer's
    gradients)."""
    returned: list[weakref.ref] = []

    class Scale(mg.Function):
        def forward(self, x, w):
            return x * w

        def backward(self, grad):
            gw = grad * 1.0
            returned.append(weakref.ref(gw))
            return grad, gw

    class Check(mg.Function):
        def forward(self, x):
            return x.copy()

        def backward(self, grad):
            assert returned and returned[0]() is None, "the engine still holds Scale's gradient"
            return (grad,)

    x = mg.Tensor(np.ones(3), requires_grad=True)
    w = mg.Tensor(np.ones(3), requires_grad=True)
    Scale.apply(Check.apply(x), w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.ones(3))


def test_training_steps_do_not_accumulate_memory():
    rng = np.random.default_rng(0)
    params = [
        mg.tensor(rng.standard_normal((8, 32)) * 0.1, requires_grad=True),
        mg.zeros(32, dtype=np.float64, requires_grad=True),
        mg.tensor(rng.standard_normal((32, 4)) * 0.1, requires_grad=True),
        mg.zeros(4, dtype=np.float64, requires_grad=True),
    ]
    x, t = rng.standard_normal((16, 8)), rng.standard_normal((16, 4))

    def step():
        w1, b1, w2, b2 = params
        loss = ((((x @ w1 + b1).relu() @ w2 + b2) - t) ** 2).mean()
        loss.backward()
        with mg.no_grad():
            for p in params:
                p.data -= 0.01 * p.grad.data
                p.grad = None
        return loss

    loss = step()
    functions = graph_functions(loss)
    assert functions and all(fn._saved is None for fn in functions)

    # Without cycles, a step's graph is freed as soon as its loss is dropped.
    gc.disable()
    try:
        graph = weakref.ref(step().grad_fn)
        assert graph() is None
    finally:
        gc.enable()

    # Each window starts from a full collection (which also empties CPython's free lists, whose
    # slow filling would otherwise look like growth): peak and live memory stay level.
    tracemalloc.start()
    try:
        windows = []
        for i in range(200):
            if i in (10, 190):
                gc.collect()
                tracemalloc.reset_peak()
            step()
            if i in (20, 199):
                windows.append(tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    (current_early, peak_early), (current_late, peak_late) = windows
    assert peak_late <= peak_early + 2048
    assert current_late <= current_early + 2048


# -- aliasing rules of the gradient buffer -------------------------------------------------------


def assert_independent(*arrays):
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)


@pytest.mark.parametrize("create_graph", [False, True])
def test_leaves_of_an_add_get_gradients_of_their_own(create_graph):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.tensor([4.0, 5.0, 6.0], requires_grad=True)
    g = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    (x + y).backward(g, create_graph=create_graph)
    assert x.grad is not y.grad
    assert_independent(x.grad.data, y.grad.data, g)
    x.grad.data[0] = 100.0
    assert y.grad.data[0] == 1.0 and g[0] == 1.0

    (x + y).backward(g)  # accumulates into each, in place or not, without touching the other
    np.testing.assert_array_equal(x.grad.data, [101.0, 4.0, 6.0])
    np.testing.assert_array_equal(y.grad.data, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(
    "forward",
    [
        lambda x: x,  # the root is the leaf itself
        lambda x: x + 0.0,
        lambda x: x.reshape(3).reshape(1, 3),  # views of the incoming gradient
        lambda x: x.transpose(1, 0).T,
        lambda x: x.clone(),
        lambda x: x.astype(np.float32),
        lambda x: mg.cat([x[:, :1], x[:, 1:]], axis=1),
        lambda x: x[0].unsqueeze(0),
    ],
)
def test_a_leaf_gradient_is_never_the_users_grad_array(forward, create_graph):
    x = mg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    g = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    forward(x).backward(g, create_graph=create_graph)
    assert_independent(x.grad.data, g)
    forward(x).backward(g)
    np.testing.assert_array_equal(x.grad.data, 2 * g)
    np.testing.assert_array_equal(g, [[1.0, 2.0, 3.0]])

    t = mg.tensor(g)
    forward(x).backward(t)
    assert_independent(x.grad.data, t.data)
    np.testing.assert_array_equal(x.grad.data, 3 * g)


def test_retained_and_leaf_gradients_do_not_share_memory():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0, 4.0], requires_grad=True)
    h = x + y
    k = h.reshape(2, 1)
    h.retain_grad()
    k.retain_grad()
    g = np.ones((2, 1), dtype=np.float32)
    (k + 0).backward(g, retain_graph=True)
    assert_independent(x.grad.data, y.grad.data, h.grad.data, k.grad.data, g)
    (k + 0).backward(g)
    for t in (x, y, h):
        np.testing.assert_array_equal(t.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(k.grad.data, [[2.0], [2.0]])
    np.testing.assert_array_equal(g, [[1.0], [1.0]])


def test_gradient_of_a_reduction_is_writable_and_accumulates():
    x = mg.tensor(np.zeros((2, 3)), requires_grad=True)
    x.sum().backward()  # the gradient reaches x as a broadcast view
    x.grad.data[0, 0] = 5.0  # so .grad must be a copy, writable element by element
    x.mean().backward()
    np.testing.assert_allclose(x.grad.data, [[5 + 1 / 6] + [1 + 1 / 6] * 2, [1 + 1 / 6] * 3])


def test_a_full_sum_arriving_first_is_summed_with_later_gradients():
    # u's first gradient is its broadcast gradient summed to 0-d (NumPy returns a scalar for a
    # full sum); the second must still be added into it.
    s = mg.tensor(2.0, dtype=np.float64, requires_grad=True)
    u = s * 1.0
    v = mg.tensor(np.ones((2, 3)), requires_grad=True)
    ((u * v).sum() + (u * 3.0) * 1.0).backward()
    assert s.grad.item() == 9.0
    assert type(s.grad.data) is np.ndarray and s.grad.shape == ()


def test_a_hooks_result_is_copied_into_grad():
    kept = mg.tensor([7.0, 7.0])
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: kept)
    (x * 2).sum().backward()
    assert_independent(x.grad.data, kept.data)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(kept.data, [7.0, 7.0])
    np.testing.assert_array_equal(x.grad.data, [14.0, 14.0])


def test_grad_results_do_not_share_memory_with_grad_outputs():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0, 4.0], requires_grad=True)
    g = np.ones(2, dtype=np.float32)
    gx, gy = mg.grad(x + y, [x, y], grad_outputs=g)
    assert_independent(gx.data, gy.data, g)


# -- the engine owns accumulation (finding 1 of issue 11) ---------------------------------------


class KeepsItsSlope(mg.Function):
    """y = 2x whose rule returns an array it keeps (a cached constant slope; right for a
    gradient of ones, which is all these tests send)."""

    def forward(self, x):
        self.slope = np.full(x.shape, 2.0, dtype=x.dtype)
        return 2 * x

    def backward(self, grad):
        return (self.slope,)


def test_a_rule_returning_an_array_it_keeps_is_never_written_into():
    x = mg.tensor([1.0, 1.0], requires_grad=True)
    y = KeepsItsSlope.apply(x)
    slope = y.grad_fn.slope
    for _ in range(3):
        y.backward(np.ones(2, np.float32), retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])  # was 8: .grad was the rule's array
    np.testing.assert_array_equal(slope, [2.0, 2.0])
    assert not np.shares_memory(x.grad.data, slope)


def test_a_kept_array_reaching_a_tensor_used_twice_is_never_written_into():
    x = mg.tensor([1.0, 1.0], requires_grad=True)
    h = x * 1.0
    y = KeepsItsSlope.apply(h)
    slope = y.grad_fn.slope
    (y + h * 3.0).sum().backward()  # h's gradient: the rule's slope, then 3 from the other path
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])
    np.testing.assert_array_equal(slope, [2.0, 2.0])
    (g,) = mg.grad(KeepsItsSlope.apply(x), x, grad_outputs=np.ones(2, np.float32))
    g.data[0] = 100.0  # a result of mg.grad is the caller's to change
    np.testing.assert_array_equal(g.data, [100.0, 2.0])

