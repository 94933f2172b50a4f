"""Owen values over a hierarchical clustering of the features: shap's Partition algorithm, engine-fed.

The algorithm is shap's `PartitionExplainer.owen` (Lundberg & Lee 2017; Owen values: Owen 1977), node
for node: a priority queue of (coalition, cluster) nodes, popped `batch_size` masks at a time, each
popped cluster split into its two children under both contexts (children absent / present), a
child's priority `-max|f(with) - f(without)| * weight`, ties broken with a seeded normal draw in the
order shap draws them. So with shap's batch size (its Text masker's `default_batch_size`, 5) and the
same seed it expands the same nodes and returns the same values as `shap.Explainer(f, masker)`.

What differs is how the model is called:
- when the whole tree fits the budget (`full_tree_evals`), every mask is known in advance and goes to
  the model in one call (the result is then exact: the converged Owen values);
- otherwise each round also evaluates, in the same model call, the masks the popped nodes' children
  would need (`lookahead`), so later rounds whose masks are already known need no model call. This
  changes the time only, never which nodes are expanded or the values: the budget counts the masks
  the algorithm consumes, as shap's does.

It also returns the result the first half of the budget gave (read off the queue when half the
evaluations are spent, at no extra model cost); the largest change from it estimates the budget's
error.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SHAP_TEXT_BATCH_SIZE = 5  # shap.maskers.Text.default_batch_size: masks per round of shap's default path
# Lookahead pays where a model call costs more than its texts: on MiniLM-L6 (the default model's
# architecture) it cut the model calls of a 25-token review at 500 evaluations from 85 to 49 for 80 extra
# masks, but at 60 tokens from 85 to 82 for 660 extra masks (the expansion spreads over the tree). So it
# runs only up to this many features.
LOOKAHEAD_MAX_FEATURES = 40


@dataclass(frozen=True)
class OwenResult:
    """Owen values (n_features, n_outputs), the all-masked output `base`, the unmasked output `fx`."""

    values: np.ndarray
    base: np.ndarray
    fx: np.ndarray
    evals: int  # masks the algorithm consumed (base and full output included), as shap counts them
    exact: bool  # the whole tree was expanded: these are the converged Owen values
    half_values: np.ndarray | None  # the result after half the budget (None when exact)
    half_evals: int | None  # the budget that result equals: the first count >= half the budget
    model_calls: int
    model_evals: int  # masks sent to the model, lookahead included
    full_tree_evals: int  # the budget from which the result is exact


class Tree:
    """A scipy-style linkage over `n` features (rows: left, right, distance, size) and its leaf sets."""

    def __init__(self, clustering: np.ndarray) -> None:
        self.clustering = np.asarray(clustering)
        self.n = len(self.clustering) + 1
        n = self.n
        self.children = self.clustering[:, :2].astype(int)
        self.leaves = np.zeros((2 * n - 1, n), dtype=bool)
        self.leaves[np.arange(n), np.arange(n)] = True
        self.size = np.ones(2 * n - 1, dtype=np.int64)
        for k, (left, right) in enumerate(self.children):
            self.leaves[n + k] = self.leaves[left] | self.leaves[right]
            self.size[n + k] = self.size[left] + self.size[right]

    @property
    def root(self) -> int:
        return 2 * self.n - 2

    def full_tree_evals(self) -> int:
        """Masks shap's algorithm evaluates to expand the whole tree: 2 per internal node visit (+2)."""
        depth = np.zeros(2 * self.n - 1, dtype=np.int64)
        total = 2
        for node in range(self.root, self.n - 1, -1):  # parents have larger indices than children
            total += 2 * 2 ** int(depth[node])
            if total > 1 << 40:
                return total
            depth[self.children[node - self.n]] = depth[node] + 1
        return total

    def lower_credit(self, node_values: np.ndarray) -> np.ndarray:
        """Values left on internal nodes spread over their leaves in proportion to size (shap's lower_credit)."""
        values = node_values.copy()
        for node in range(self.root, self.n - 1, -1):
            left, right = self.children[node - self.n]
            values[left] += values[node] * self.size[left] / self.size[node]
            values[right] += values[node] * self.size[right] / self.size[node]
        return values[: self.n]


class MaskCache:
    """Model outputs per mask; `evaluate` sends only unseen masks to the model, in one call."""

    def __init__(self, model: Callable[[np.ndarray], np.ndarray]) -> None:
        self.model = model
        self.outputs: dict[bytes, np.ndarray] = {}
        self.calls = 0
        self.evals = 0

    def evaluate(self, masks: list[np.ndarray], extra: list[np.ndarray] = ()) -> list[np.ndarray]:
        """Outputs for `masks`; unseen `extra` masks (lookahead) ride along in the same model call."""
        todo: dict[bytes, np.ndarray] = {}
        for mask in [*masks, *extra]:
            key = np.packbits(mask).tobytes()
            if key not in self.outputs and key not in todo:
                todo[key] = mask
        if todo:
            out = np.asarray(self.model(np.array(list(todo.values()))), dtype=np.float64)
            self.outputs.update(zip(todo, out, strict=True))
            self.calls += 1
            self.evals += len(todo)
        return [self.outputs[np.packbits(m).tobytes()] for m in masks]


def owen_values(
    model: Callable[[np.ndarray], np.ndarray],
    clustering: np.ndarray,
    max_evals: int,
    *,
    batch_size: int = SHAP_TEXT_BATCH_SIZE,
    lookahead: bool | None = None,
    seed: int = 0,
    exact_if_fits: bool = True,
) -> OwenResult:
    """Owen values of `model` (bool masks (k, n) -> outputs (k, n_outputs)) over `clustering`.

    Equal to shap's `PartitionExplainer` with the same `max_evals`, `batch_size` and
    `np.random.seed(seed)`; exact when the whole tree fits `max_evals`. `lookahead` None: on up to
    LOOKAHEAD_MAX_FEATURES features.
    """
    tree = Tree(clustering)
    if lookahead is None:
        lookahead = tree.n <= LOOKAHEAD_MAX_FEATURES
    cache = MaskCache(model)
    n = tree.n
    none, full = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    if exact_if_fits and tree.full_tree_evals() <= max_evals:
        return _exact(tree, cache, none, full)
    f00, f11 = cache.evaluate([none, full])
    node_values = np.zeros((2 * n - 1, len(f00)))
    rng = np.random.RandomState(seed)
    budget, half = max_evals - 2, (max_evals - 2) // 2
    queue = [(0.0, 0.0, 0, (none, f00, f11, tree.root, 1.0))]
    pushed, evals, half_values, half_evals = 1, 0, None, None
    while queue:
        if half_values is None and evals >= half:
            half_values, half_evals = _values_with_queue(tree, node_values, queue), evals + 2
        if evals >= budget:
            break
        batch, masks = _pop_round(tree, queue, node_values, batch_size, budget - evals)
        if not batch:
            continue
        ahead = _children_masks(tree, batch) if lookahead else []
        outputs = cache.evaluate(masks, ahead)
        evals += len(masks)
        pushed = _push_children(queue, batch, outputs, rng, pushed)
    values = _values_with_queue(tree, node_values, queue)
    return OwenResult(
        values,
        _output(cache, none),
        _output(cache, full),
        evals + 2,
        all(entry[3][3] < n for entry in queue),  # only leaves left: the whole tree was expanded
        half_values,
        half_evals,
        cache.calls,
        cache.evals,
        tree.full_tree_evals(),
    )


def _pop_round(
    tree: Tree, queue: list, node_values: np.ndarray, batch_size: int, room: int
) -> tuple[list[tuple], list[np.ndarray]]:
    """One round as shap pops it: nodes until `batch_size` masks (or `room` left); leaves are credited."""
    n, batch, masks = tree.n, [], []
    while queue and len(masks) < batch_size and len(masks) < room:
        m00, f00, f11, node, weight = heapq.heappop(queue)[3]
        if node < n:  # a leaf: its marginal contribution, weighted
            node_values[node] += (f11 - f00) * weight
            continue
        left, right = tree.children[node - n]
        m10, m01 = m00 | tree.leaves[left], m00 | tree.leaves[right]
        batch.append((m00, m10, m01, f00, f11, left, right, weight))
        masks += [m10, m01]
    return batch, masks


def _push_children(queue: list, batch: list[tuple], outputs: list, rng: np.random.RandomState, pushed: int) -> int:
    """Each expanded node's four children (left/right x without/with the sibling), shap's priorities and draws."""
    for i, (m00, m10, m01, f00, f11, left, right, weight) in enumerate(batch):
        f10, f01 = outputs[2 * i], outputs[2 * i + 1]
        w = weight / 2
        for child in (
            (m00, f00, f10, left, w),
            (m00, f00, f01, right, w),
            (m01, f01, f11, left, w),
            (m10, f10, f11, right, w),
        ):
            priority = -np.max(np.abs(child[2] - child[1])) * w
            heapq.heappush(queue, (priority, rng.randn(), pushed, child))
            pushed += 1
    return pushed


def _output(cache: MaskCache, mask: np.ndarray) -> np.ndarray:
    """The cached model output for one mask."""
    return cache.outputs[np.packbits(mask).tobytes()]


def _values_with_queue(tree: Tree, node_values: np.ndarray, queue: list) -> np.ndarray:
    """Leaf values if the run stopped now: every queued node keeps its whole difference (shap's cut-off)."""
    values = node_values.copy()
    for _, _, _, (_, f00, f11, node, weight) in queue:
        values[node] += (f11 - f00) * weight
    return tree.lower_credit(values)


def _children_masks(tree: Tree, batch: list[tuple]) -> list[np.ndarray]:
    """The masks the popped nodes' four children would evaluate if they are expanded next."""
    n, masks = tree.n, []
    for m00, m10, m01, _, _, left, right, _ in batch:
        for base, child in ((m00, left), (m00, right), (m01, left), (m10, right)):
            if child >= n:
                grand_left, grand_right = tree.children[child - n]
                masks += [base | tree.leaves[grand_left], base | tree.leaves[grand_right]]
    return masks


def _exact(tree: Tree, cache: MaskCache, none: np.ndarray, full: np.ndarray) -> OwenResult:
    """The whole tree, every mask in one model call: the Owen values themselves."""
    n = tree.n
    nodes = [(none, full, tree.root, 1.0)]  # (coalition without, coalition with, node, weight)
    visits: list[tuple] = []
    masks = [none, full]
    while nodes:
        m00, m11, node, weight = nodes.pop()
        if node < n:
            visits.append((m00, m11, node, weight))
            continue
        left, right = tree.children[node - n]
        m10, m01 = m00 | tree.leaves[left], m00 | tree.leaves[right]
        masks += [m10, m01]
        w = weight / 2
        nodes += [(m00, m10, left, w), (m00, m01, right, w), (m01, m11, left, w), (m10, m11, right, w)]
    cache.evaluate(masks)
    f00, f11 = _output(cache, none), _output(cache, full)
    values = np.zeros((n, len(f00)))
    for m00, m11, node, weight in visits:
        values[node] += (_output(cache, m11) - _output(cache, m00)) * weight
    return OwenResult(values, f00, f11, len(masks), True, None, None, cache.calls, cache.evals, len(masks))
