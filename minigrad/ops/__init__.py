"""The gradient rules: one `Function` per op, its forward beside its backward, by op family.

- `elementwise`: arithmetic, exp/log/sqrt/abs, activations, clip, maximum/minimum, where, cast.
- `reduce`: sum, mean, max, min, logsumexp.
- `linalg`: matmul.
- `shape`: reshape, transpose, broadcast_to, squeeze/unsqueeze, indexing, concatenate, stack,
  and `unbroadcast`, the one helper that sums a broadcast gradient back to an input's shape.
"""
