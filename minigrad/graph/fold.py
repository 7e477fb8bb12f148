"""Big graphs drawn small: repeated blocks of ops folded into one box each.

A real model's graph repeats itself: a chain of 10,000 additions, an unrolled loop, layer after
identical layer. Ops are grouped by depth (the column they are drawn in); a column's signature
is the sorted list of its ops' names. Where a stretch of k columns repeats its signatures many
times in a row (the same block again and again), the first and last repetitions stay drawn, so
the reader sees what the block is, and the repetitions between them become one "fold" box,
labelled with the block and its count: `Add ×9,996`, `(Mul → Add) ×498`.

If the graph is still too big after that (big and irregular), runs of consecutive columns are
folded into boxes of about equal size. Leaves and constants used only inside a fold go with it.
"""

from __future__ import annotations

from collections import Counter

from .walk import Edge, Graph, Node

FOLD_ABOVE = 200  # graphs with more ops than this are folded
MAX_PERIOD = 8  # longest block (in columns) that is looked for
KEEP_COLUMNS = 2  # columns drawn, at least, on either side of a fold


def fold(graph: Graph, limit: int = FOLD_ABOVE) -> Graph:
    """`graph` itself when it has at most `limit` ops, else a folded copy."""
    ops = [n for n in graph.nodes if n.kind == "op"]
    if len(ops) <= limit:
        return graph
    depth = {n.index: n.depth for n in ops}
    deepest = max(depth.values())
    columns: list[list[Node]] = [[] for _ in range(deepest + 1)]
    for n in ops:
        columns[depth[n.index]].append(n)
    signature = [tuple(sorted(type(n.fn).__name__ for n in c)) for c in columns]

    # fold_of[column] = (first column, last column, label) of the fold containing it
    folds: list[tuple[int, int, str]] = []
    k = 1
    while k <= deepest:
        period, reps = _repeat_at(signature, k, deepest)
        keep = -(-KEEP_COLUMNS // period)  # repetitions kept drawn at each end (ceil)
        if reps - 2 * keep >= 2:
            first, last = k + keep * period, k + (reps - keep) * period - 1
            folds.append((first, last, _block_label(signature[k:k + period], reps - 2 * keep)))
            k += reps * period
        else:
            k += 1
    folded_ops = sum(len(columns[c]) for a, b, _ in folds for c in range(a, b + 1))
    if len(ops) - folded_ops > limit:
        folds = _even_folds(columns, folds, limit)
    return _apply(graph, depth, folds)


def _repeat_at(signature: list[tuple[str, ...]], k: int, deepest: int) -> tuple[int, int]:
    """(period, repetitions) of the longest run of a repeated block starting at column k."""
    best = (1, 1)
    for period in range(1, MAX_PERIOD + 1):
        if k + 2 * period - 1 > deepest:
            break
        block = signature[k:k + period]
        reps = 1
        while (k + (reps + 1) * period - 1 <= deepest
               and signature[k + reps * period:k + (reps + 1) * period] == block):
            reps += 1
        if reps >= 3 and reps * period > best[0] * best[1]:
            best = (period, reps)
    return best


def _block_label(block: list[tuple[str, ...]], reps: int) -> str:
    names = [" + ".join(sig) for sig in block]
    body = names[0] if len(names) == 1 else "(" + " → ".join(names) + ")"
    return f"{body} ×{reps:,}"


def _even_folds(
    columns: list[list[Node]], folds: list[tuple[int, int, str]], limit: int
) -> list[tuple[int, int, str]]:
    """Add folds over the unfolded columns, about `limit / 8` boxes of equal op counts."""
    inside = {c for a, b, _ in folds for c in range(a, b + 1)}
    free = [c for c in range(1, len(columns)) if c not in inside]
    total = sum(len(columns[c]) for c in free)
    chunk = max(2, total * 8 // limit)
    out = list(folds)
    start, count = None, 0
    for i, c in enumerate(free):
        if start is None:
            start, count = c, 0
        count += len(columns[c])
        last = i + 1 == len(free) or free[i + 1] != c + 1
        if count >= chunk or last:
            if c > start or count > 1:
                names = Counter(n.fn.name for col in columns[start:c + 1] for n in col)
                common = ", ".join(f"{name} ×{k:,}" for name, k in names.most_common(3))
                out.append((start, c, f"{count:,} ops: {common}"))
            start = None
    return sorted(out)


def _apply(graph: Graph, depth: dict[int, int], folds: list[tuple[int, int, str]]) -> Graph:
    """A new Graph where the ops of each fold's columns are one node."""
    fold_at: dict[int, int] = {}
    for i, (a, b, _) in enumerate(folds):
        for c in range(a, b + 1):
            fold_at[c] = i
    # Which fold (if any) each original node disappears into.
    into: dict[int, int] = {n: fold_at[d] for n, d in depth.items() if d in fold_at}
    users: dict[int, set[int | None]] = {}
    for e in graph.edges:
        if graph.nodes[e.source].kind in ("leaf", "constant"):
            users.setdefault(e.source, set()).add(into.get(e.target))
    for source, where in users.items():
        if len(where) == 1 and None not in where:  # used inside one fold only: it goes along
            into[source] = next(iter(where))

    nodes: list[Node] = []
    new_index: dict[int, int] = {}
    fold_nodes = [Node(-1, "fold", label) for _, _, label in folds]
    for n in graph.nodes:
        if n.index in into:
            target = fold_nodes[into[n.index]]
            if n.kind == "op":
                target.ops.append(n.index)
            continue
        new_index[n.index] = len(nodes)
        nodes.append(Node(len(nodes), n.kind, n.label, n.value, n.fn, n.ops, n.depth))
    for f in fold_nodes:
        f.index = len(nodes)
        nodes.append(f)

    def where(i: int) -> int:
        return fold_nodes[into[i]].index if i in into else new_index[i]

    edges, seen = [], set()
    for e in graph.edges:
        s, t = where(e.source), where(e.target)
        if s == t or (s, t, e.value) in seen:
            continue
        seen.add((s, t, e.value))
        edges.append(Edge(s, t, e.value))
    return Graph(nodes, edges, graph.values, graph.root, folded_from=graph)
