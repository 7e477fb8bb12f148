"""The gradcheck table's rows for convolution and pooling (tests/gradcheck_table.py runs each at
first and second order). Examples and the NumPy references, written another way than the ops,
are in tests/conv_strategies.py; comparisons with PyTorch are in tests/test_conv.py."""

from __future__ import annotations

import conv_strategies as cs
from gradcheck_table import Case, table_tests

import minigrad as mg
from minigrad.ops import conv, pool, windows

CASES = [
    Case("conv2d", cs.conv2d_example(), mg.conv2d, cs.conv2d_ref, (conv.Conv2d,)),
    Case(
        "conv_transpose2d",
        cs.conv_transpose2d_example(),
        mg.conv_transpose2d,
        cs.conv_transpose2d_ref,
        (conv.ConvTranspose2d,),
    ),
    Case(
        "conv2d_weight",
        cs.conv2d_weight_example(),
        lambda x, gy, weight_size, **params: mg.conv2d_weight(x, weight_size, gy, **params),
        cs.conv2d_weight_ref,
        (conv.Conv2dWeight,),
    ),
    Case("max_pool2d", cs.pool_example("max"), mg.max_pool2d, cs.max_pool2d_ref, (pool.MaxPool2d,)),
    Case(
        "max_unpool2d",
        cs.max_unpool2d_example(),
        lambda grad, **params: pool.MaxUnpool2d.apply(grad, **params),
        cs.max_unpool2d_ref,
        (pool.MaxUnpool2d,),
    ),
    Case("avg_pool2d", cs.pool_example("avg"), mg.avg_pool2d, cs.avg_pool2d_ref, (pool.AvgPool2d,)),
    Case("im2col", cs.im2col_example(), mg.im2col, cs.book_im2col, (windows.Unfold,)),
    Case("col2im", cs.col2im_example(), mg.col2im, cs.book_col2im, (windows.Fold,)),
]

test_op, test_op_second_order = table_tests(CASES)
