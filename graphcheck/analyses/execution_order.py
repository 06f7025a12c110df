"""The order in which Keras 3 runs the calls of one model scope.

Keras 3 (``ops/function.py``: ``map_graph``, ``_build_map``) walks the graph depth
first from the outputs, gives every node a depth (longest distance to an output;
a shared layer's nodes take the largest), and then runs the nodes depth by depth,
deepest first, each depth in the order its nodes were first given a depth. The
order matters in Keras 3.0-3.15 because the ``training`` value each layer resolves
is left in one call context shared by the whole top-level call: the next layer
without a flag of its own inherits it.
"""

from __future__ import annotations

from collections import defaultdict

from graphcheck.model import ModelDesc, TensorRef

__all__ = ["keras3_call_order"]

CallKey = tuple[str, int]


def keras3_call_order(model: ModelDesc) -> list[CallKey]:
    """Return ``(layer name, call index)`` of every call Keras 3 runs, in its order.

    Input layers are left out (Keras skips them). Calls that do not lead to an
    output are not run, as in Keras.
    """
    layers = {layer.name: layer for layer in model.layers}

    def node_of(ref: TensorRef) -> CallKey:
        layer = layers[ref.layer]
        return (ref.layer, ref.node_index if layer.calls else 0)

    def parents(key: CallKey) -> list[CallKey]:
        layer = layers[key[0]]
        if not layer.calls:
            return []
        return [node_of(ref) for ref in layer.calls[key[1]].inputs]

    post_order: list[CallKey] = []
    finished: set[CallKey] = set()
    for output in model.outputs:
        start = node_of(output)
        if start in finished:
            continue
        stack = [(start, iter(parents(start)))]
        in_progress = {start}
        while stack:
            key, pending = stack[-1]
            for parent in pending:
                if parent not in finished and parent not in in_progress:
                    in_progress.add(parent)
                    stack.append((parent, iter(parents(parent))))
                    break
            else:
                stack.pop()
                in_progress.discard(key)
                finished.add(key)
                post_order.append(key)

    in_graph = set(post_order)
    depths: dict[CallKey, int] = {}
    layer_depths: dict[str, int] = {}
    for key in reversed(post_order):
        depth = max(depths.setdefault(key, 0), layer_depths.get(key[0], 0))
        layer_depths[key[0]] = depth
        depths[key] = depth
        for parent in parents(key):
            if parent in in_graph:
                depths[parent] = max(depth + 1, depths.get(parent, 0))

    by_depth: dict[int, list[CallKey]] = defaultdict(list)
    for key, depth in depths.items():
        by_depth[depth].append(key)
    return [
        key
        for depth in sorted(by_depth, reverse=True)
        for key in by_depth[depth]
        if layers[key[0]].calls
    ]
