"""A layered layout for computational graphs: left to right in topological order, as the book
draws them, in pure Python (no Graphviz).

The classic recipe (Sugiyama et al., 1981), kept small:

1. **Layers.** Each node goes one column right of its furthest input (the longest path from the
   sources). A source (a leaf, a constant) then moves right, next to the first op that uses it,
   as the book draws the tax right beside the multiply node that takes it.
2. **Dummies.** An arrow spanning several columns gets an invisible node in each column it
   crosses, so that it has room and takes part in the ordering.
3. **Order.** Within each column, nodes are sorted by the barycentre (mean position) of their
   neighbours in the column before, then in the column after, sweeping to and fro a few times;
   the order with the fewest crossings wins.
4. **Coordinates.** Columns are as far apart as the labels between them need. Within a column,
   each node wants to sit at the mean height of its neighbours; the closest heights that keep
   the order and the minimum spacing are an isotonic regression, solved exactly by the
   pool-adjacent-violators algorithm. A few sweeps settle the picture.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

SWEEPS = 4  # ordering rounds (each one down and one up the columns)
SETTLE = 8  # rounds of coordinate placement


@dataclass
class Layout:
    """Node centres, each edge's path (its centre points, from source to target), the size."""

    x: list[float]
    y: list[float]
    layer: list[int]
    routes: list[list[tuple[float, float]]]
    width: float
    height: float


def assign_layers(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Longest-path layers (sources at 0), then each source moved next to its first user."""
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        succs[a].append(b)
        preds[b].append(a)
    indegree = [len(p) for p in preds]
    ready = [v for v in range(n) if indegree[v] == 0]
    layer = [0] * n
    seen = 0
    while ready:  # Kahn's algorithm: each node after all its inputs
        v = ready.pop()
        seen += 1
        for w in succs[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    if seen != n:
        raise ValueError("the graph has a cycle; a computational graph never does")
    for v in range(n):
        if not preds[v] and succs[v]:
            layer[v] = min(layer[w] for w in succs[v]) - 1
    return layer


def layered_layout(
    sizes: Sequence[tuple[float, float]],
    edges: Sequence[tuple[int, int]],
    gaps: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    spacing: float = 34.0,
    margin: float = 12.0,
) -> Layout:
    """Place nodes of the given (width, height) so that every edge points right.

    `gaps[v]` is the horizontal room that the labels of arrows leaving node v need between its
    column and the next; `spacing` is the vertical room between two boxes of one column.
    `weights[i]` is how much edge i wants to be straight (a main chain of ops more than the
    arrows of its side inputs)."""
    n = len(sizes)
    layer = assign_layers(n, edges)
    # Dummy nodes: an arrow from column 2 to column 5 passes through dummies in columns 3 and 4.
    width = [w for w, _ in sizes]
    height = [h for _, h in sizes]
    col = list(layer)
    chains: list[list[int]] = []  # each edge as its node sequence, dummies included
    for a, b in edges:
        chain = [a]
        for k in range(layer[a] + 1, layer[b]):
            col.append(k)
            width.append(0.0)
            height.append(0.0)
            chain.append(len(col) - 1)
        chain.append(b)
        chains.append(chain)
    total = len(col)
    up: list[list[int]] = [[] for _ in range(total)]  # neighbours in the column before
    down: list[list[int]] = [[] for _ in range(total)]  # and in the column after
    # (neighbour, weight) in the column before and in the column after
    pull_up: list[list[tuple[int, float]]] = [[] for _ in range(total)]
    pull_down: list[list[tuple[int, float]]] = [[] for _ in range(total)]
    for i, chain in enumerate(chains):
        weight = weights[i] if weights is not None else 1.0
        for a, b in pairwise(chain):
            down[a].append(b)
            up[b].append(a)
            pull_down[a].append((b, weight))
            pull_up[b].append((a, weight))
    columns: list[list[int]] = [[] for _ in range(max(col, default=-1) + 1)]
    for v in _first_seen_order(total, down, up):
        columns[col[v]].append(v)
    _order(columns, up, down)
    xs = _column_positions(columns, width, col, gaps, n, margin)
    ys = _heights(columns, pull_up, pull_down, height, spacing)
    top = min((ys[v] - height[v] / 2 for v in range(total)), default=0.0)
    ys = [y - top + margin for y in ys]
    routes = [[(xs[v], ys[v]) for v in chain] for chain in chains]
    right = max((xs[v] + width[v] / 2 for v in range(total)), default=0.0)
    bottom = max((ys[v] + height[v] / 2 for v in range(total)), default=0.0)
    return Layout(xs[:n], ys[:n], layer, routes, right + margin, bottom + margin)


def _first_seen_order(total: int, down: list[list[int]], up: list[list[int]]) -> list[int]:
    """An initial order: depth-first from the sinks along the inputs, so that the inputs of
    one op start out next to each other, in the op's argument order."""
    order, seen = [], [False] * total
    for start in range(total - 1, -1, -1):
        if down[start] or seen[start]:
            continue
        stack = [start]
        while stack:
            v = stack.pop()
            if seen[v]:
                continue
            seen[v] = True
            order.append(v)
            stack.extend(reversed([u for u in up[v] if not seen[u]]))
    order += [v for v in range(total) if not seen[v]]
    return order


def _order(columns: list[list[int]], up: list[list[int]], down: list[list[int]]) -> None:
    """Barycentre sweeps; keeps (in place) the ordering with the fewest crossings."""

    def crossings() -> int:
        return sum(_crossings(columns[k], columns[k + 1], down) for k in range(len(columns) - 1))

    best, best_order = crossings(), [list(c) for c in columns]
    for _ in range(SWEEPS):
        if best == 0:
            break
        for k in range(1, len(columns)):
            _sort_by_barycentre(columns[k], columns[k - 1], up)
        for k in range(len(columns) - 2, -1, -1):
            _sort_by_barycentre(columns[k], columns[k + 1], down)
        count = crossings()
        if count < best:
            best, best_order = count, [list(c) for c in columns]
    columns[:] = best_order


def _sort_by_barycentre(column: list[int], fixed: list[int], links: list[list[int]]) -> None:
    position = {v: i for i, v in enumerate(fixed)}
    keys = {}
    for i, v in enumerate(column):
        linked = [position[u] for u in links[v]]
        keys[v] = sum(linked) / len(linked) if linked else i  # unlinked nodes keep their place
    column.sort(key=keys.__getitem__)  # a stable sort: ties keep their order


def _crossings(left: list[int], right: list[int], down: list[list[int]]) -> int:
    """Edges between two columns that cross: inversions of the right ends, taken in the order
    of the left ends (counted with a sorted list, O(E log E))."""
    position = {v: i for i, v in enumerate(right)}
    ends = [position[w] for v in left for w in sorted(down[v], key=position.__getitem__)]
    seen: list[int] = []
    count = 0
    for e in ends:
        count += len(seen) - bisect_right(seen, e)  # earlier edges ending below this one
        seen.insert(bisect_right(seen, e), e)
    return count


def _column_positions(
    columns: list[list[int]],
    width: list[float],
    col: list[int],
    gaps: Sequence[float] | None,
    n: int,
    margin: float,
) -> list[float]:
    """x of each node: the centre of its column, columns as far apart as their labels need."""
    widest = [max((width[v] for v in c), default=0.0) for c in columns]
    room = [0.0] * len(columns)
    for k, c in enumerate(columns):
        room[k] = max((gaps[v] for v in c if v < n), default=0.0) if gaps else 0.0
    centres, x = [], margin
    for k in range(len(columns)):
        x += widest[k] / 2
        centres.append(x)
        x += widest[k] / 2 + max(40.0, room[k] + 16.0)
    return [centres[col[v]] for v in range(len(col))]


def _heights(
    columns: list[list[int]],
    pull_up: list[list[tuple[int, float]]],
    pull_down: list[list[tuple[int, float]]],
    height: list[float],
    spacing: float,
) -> list[float]:
    """y of each node: where its heaviest edges pull it, order and spacing kept.

    Heavy edges win outright: an op sits level with the ops of its chain, and its leaves hang
    off it, instead of each leaf tilting the chain. Sweeping left to right, a node follows its
    neighbours in the column before; right to left, those after (so a chain straightens in one
    sweep); the last sweeps balance both sides."""
    both = [u + d for u, d in zip(pull_up, pull_down, strict=True)]
    top = max((w for links in both for _, w in links), default=1.0)  # the main chain's weight
    ys = [0.0] * len(height)
    for c in columns:  # start stacked from the top
        y = 0.0
        for i, v in enumerate(c):
            if i:
                y += (height[c[i - 1]] + height[v]) / 2 + spacing
            ys[v] = y
    for sweep in range(SETTLE):
        rightwards = sweep % 2 == 0
        ks = range(len(columns)) if rightwards else range(len(columns) - 1, -1, -1)
        first, second = (pull_up, pull_down) if rightwards else (pull_down, pull_up)
        balance = sweep >= SETTLE - 2
        for k in ks:
            c = columns[k]
            wanted = []
            for v in c:
                links = both[v] if balance else (first[v] or second[v])
                wanted.append(_pulled_to([(ys[u], w) for u, w in links], ys[v]))
            gaps = [0.0] + [(height[a] + height[b]) / 2 + spacing for a, b in pairwise(c)]
            # A node on the main chain hardly moves; one that only hangs off it gives way.
            mass = [1.0 if max((w for _, w in both[v]), default=0) >= top else 1e-3 for v in c]
            for v, y in zip(c, _closest_spaced(wanted, gaps, mass), strict=True):
                ys[v] = y
    return ys


def _pulled_to(links: list[tuple[float, float]], default: float) -> float:
    """Where a node wants to be: the mean height of its neighbours along its heaviest edges
    (an op follows the ops of its chain and ignores its leaves; a leaf follows its op)."""
    if not links:
        return default
    heaviest = max(w for _, w in links)
    ys = [y for y, w in links if w == heaviest]
    return sum(ys) / len(ys)


def _closest_spaced(wanted: list[float], gaps: list[float], mass: list[float]) -> list[float]:
    """The heights y nearest to `wanted` (least squares weighted by `mass`) with
    y[i] >= y[i-1] + gaps[i].

    Shifting each target by the cumulative gap turns this into an isotonic regression (the
    shifted heights must not decrease), which pool-adjacent-violators solves in linear time."""
    offsets, total = [], 0.0
    for g in gaps:
        total += g
        offsets.append(total)
    blocks: list[list[float]] = []  # [weighted mean, total mass, count]
    for w, o, m in zip(wanted, offsets, mass, strict=True):
        blocks.append([w - o, m, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:  # merge violators
            y2, m2, c2 = blocks.pop()
            y1, m1, c1 = blocks.pop()
            blocks.append([(y1 * m1 + y2 * m2) / (m1 + m2), m1 + m2, c1 + c2])
    shifted = [y for y, _, c in blocks for _ in range(int(c))]
    return [z + o for z, o in zip(shifted, offsets, strict=True)]
