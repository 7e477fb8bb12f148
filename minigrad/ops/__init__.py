"""The gradient rules: one `Function` per op, its forward beside its backward, by op family.

- `elementwise`: arithmetic, exp/log/sqrt/abs, activations, clip, maximum/minimum, where, cast.
- `reduce`: sum, mean, max, min, logsumexp.
- `linalg`: matmul.
- `windows`: sliding windows, the book's im2col / col2im (the machinery of the next two).
- `conv`: conv2d, conv_transpose2d and conv2d_weight, each the others' gradient.
- `pool`: max_pool2d and avg_pool2d.
- `shape`: reshape, transpose, broadcast_to, squeeze/unsqueeze, indexing, concatenate, stack,
  and `unbroadcast`, the one helper that sums a broadcast gradient back to an input's shape.
"""
