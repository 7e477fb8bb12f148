"""Each op's local derivative in one line, as the interactive page shows it beside the op.

`dout` is the gradient arriving at the op's output (the book's `dout`), `z` the op's output;
`dx`, `dy` ... are what the op's backward sends to its inputs x, y ... (the engine then sums a
broadcast input's gradient back to its shape). An op missing here (a new one) is described by
the first paragraph of its docstring, which for minigrad's ops states the derivative too.
"""

from __future__ import annotations

from ..autograd import Function

RULES: dict[str, str] = {
    # elementwise (minigrad/ops/elementwise.py)
    "Add": "dx = dout, dy = dout",
    "Sub": "dx = dout, dy = -dout",
    "Mul": "dx = dout * y, dy = dout * x",
    "Div": "dx = dout / y, dy = -dout * x / y**2",
    "Pow": "dx = dout * y * x**(y - 1), dy = dout * z * log(x)",
    "Neg": "dx = -dout",
    "Clone": "dx = dout",
    "Cast": "dx = dout, cast back to x's dtype",
    "Exp": "dx = dout * z  (z = exp(x))",
    "Log": "dx = dout / x",
    "Sqrt": "dx = dout / (2 * z)  (z = sqrt(x))",
    "Abs": "dx = dout * sign(x)",
    "Tanh": "dx = dout * (1 - z**2)  (z = tanh(x))",
    "Sigmoid": "dx = dout * z * (1 - z)  (z = sigmoid(x))",
    "ReLU": "dx = dout * (x > 0)",
    "Clip": "dx = dout * (low <= x <= high)",
    "Maximum": "dx = dout * (x > y), dy = dout * (y > x); a tie gives each half",
    "Minimum": "dx = dout * (x < y), dy = dout * (y < x); a tie gives each half",
    "Where": "dx = dout * condition, dy = dout * not condition",
    # linear algebra (minigrad/ops/linalg.py)
    "MatMul": "dx = dout @ y.T, dy = x.T @ dout",
    "Affine": "dx = dout @ W.T, dW = x.T @ dout, db = dout.sum(axis=0)",
    "Linear": "dx = dout @ W, dW = dout.T @ x, db = dout.sum(axis=0)  (y = x @ W.T + b)",
    # reductions (minigrad/ops/reduce.py)
    "Sum": "dx = dout, broadcast back to x's shape",
    "Mean": "dx = dout / n, broadcast back to x's shape (n elements averaged)",
    "Max": "dx = dout where x is the maximum (shared among ties), else 0",
    "Min": "dx = dout where x is the minimum (shared among ties), else 0",
    "LogSumExp": "dx = dout * softmax(x)",
    # shapes (minigrad/ops/shape.py)
    "Reshape": "dx = dout.reshape(x.shape)",
    "Transpose": "dx = dout transposed back (the inverse permutation)",
    "BroadcastTo": "dx = dout summed over the broadcast axes",
    "GetItem": "dx = zeros like x, with dout added at the index",
    "ScatterAdd": "dx = dout[index]",
    "Concatenate": "dx_i = the slice of dout where x_i was placed",
    "Stack": "dx_i = dout[i] along the new axis",
    "Pad": "dx = dout without the padding (its middle)",
    # softmax and losses
    "Softmax": "dx = z * (dout - sum(dout * z))  (z = softmax(x))",
    "LogSoftmax": "dx = dout - softmax(x) * sum(dout)",
    "CrossEntropy": "dx = dout * (softmax(x) - t) / N  (t one-hot, N rows)",
    # convolution and pooling (minigrad/ops/conv.py, pool.py, windows.py)
    "Conv2d": "dx = conv_transpose2d(dout, w), dw = Σ over n, i, j of dout · x's windows, "
              "db = dout summed over n, i, j",
    "ConvTranspose2d": "dx = conv2d(dout, w), dw = Σ over n, i, j of x · dout's windows, "
                       "db = dout summed over n, i, j",
    "Conv2dWeight": "dx = conv_transpose2d(gy, dout), dgy = conv2d(x, dout)",
    "MaxPool2d": "dx = dout at each window's maximum (the first among ties), 0 elsewhere",
    "MaxUnpool2d": "dx = dout read at each window's maximum",
    "AvgPool2d": "dx = dout / (kh * kw), spread over each window",
    "Unfold": "dx = fold(dout): each window's gradient added back where it was read (col2im)",
    "Fold": "dx = unfold(dout): each window read back out (im2col)",
}


def rule_of(fn: Function | type[Function]) -> str:
    """The op's derivative in one line: its entry in RULES, else its docstring's first paragraph
    (joined into one line)."""
    cls = fn if isinstance(fn, type) else type(fn)
    if cls.__name__ in RULES:
        return RULES[cls.__name__]
    doc = (cls.__doc__ or "").strip()
    if doc and cls.__doc__ is not Function.__doc__:
        return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())
    return f"{cls.__name__} has no documented derivative"
