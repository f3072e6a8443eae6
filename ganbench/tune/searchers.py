"""The three searchers of a sweep, as Ray Tune search algorithms.

- ``random``: :class:`ray.tune.search.BasicVariantGenerator` with a fixed ``random_state``, so a
  sweep restarted from scratch proposes the same points again (and finds them finished).
- ``tpe``: Optuna's multivariate TPE sampler (Bergstra et al. 2011, "Algorithms for
  Hyper-Parameter Optimization"; the multivariate kernel of Falkner et al. 2018, BOHB) wrapped by
  :class:`ray.tune.search.optuna.OptunaSearch`, seeded.
- ``coordinate``: :class:`CoordinateSearcher`, one coordinate at a time from the defaults.

``pbt`` has no searcher of its own: its members are random points (``random``), and the
:mod:`ganbench.tune.schedulers` PBT scheduler moves them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ganbench.paths import atomic_write_text
from ganbench.tune.space import coordinate_grid


class TolerantOptunaSearch(OptunaSearch):
    """OptunaSearch that skips intermediate results without the objective.

    A trial that fails or diverges before its first evaluation reports only its status;
    OptunaSearch would raise ``KeyError`` on it and end the whole sweep. Its completion is
    still told to Optuna (as pruned or failed) by ``on_trial_complete``.
    """

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self.metric in result:
            super().on_trial_result(trial_id, result)


class CoordinateSearcher(Searcher):
    """One-parameter-at-a-time search from the defaults, the GN-GAN report's way.

    The first trial is the defaults (the incumbent). Then, coordinate after coordinate in the
    order of the space, it proposes a grid of that coordinate's values with every other
    coordinate at the incumbent's value, waits for the whole batch, and keeps the best point
    as the new incumbent before moving on (coordinate descent). With budget left after the
    last coordinate it starts another pass; points already evaluated are never proposed
    twice, and it says FINISHED when none are left. Each coordinate gets
    ``max(2, ceil((budget - 1) / n_coordinates))`` grid values (every value of a ``choice``).
    """

    def __init__(self, space: dict[str, Any], start: dict[str, Any], budget: int,
                 metric: str | None = None, mode: str | None = None):
        super().__init__(metric=metric, mode=mode)
        self.space = space
        self.names = list(space)
        per_coordinate = max(2, math.ceil((budget - 1) / max(1, len(self.names))))
        self.grids = {name: coordinate_grid(spec, per_coordinate) for name, spec in space.items()}
        self.incumbent = dict(start)
        self.incumbent_score: float | None = None
        self.position = -1  # -1: the start point; then the index of the coordinate being swept
        self.passes = 0
        self.queue: list[dict[str, Any]] = [dict(start)]
        self.pending: dict[str, dict[str, Any]] = {}
        self.batch_scores: list[tuple[float, dict[str, Any]]] = []
        self.seen: set[str] = set()

    @staticmethod
    def _key(coords: dict[str, Any]) -> str:
        return repr(sorted((k, round(v, 12) if isinstance(v, float) else v) for k, v in coords.items()))

    def _better(self, a: float, b: float | None) -> bool:
        return b is None or (a < b if self.mode == "min" else a > b)

    def _next_batch(self) -> bool:
        """Fill the queue with the next coordinate's unseen points; False when none are left."""
        for _ in range(len(self.names) + 1):
            self.position += 1
            if self.position >= len(self.names):
                self.position = 0
                self.passes += 1
            name = self.names[self.position]
            batch = [{**self.incumbent, name: value} for value in self.grids[name]]
            batch = [c for c in batch if self._key(c) not in self.seen]
            if batch:
                self.queue = batch
                return True
        return False

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if not self.queue:
            if self.pending:
                return None  # wait: the batch decides the incumbent
            self._close_batch()
            if not self._next_batch():
                return Searcher.FINISHED
        coords = self.queue.pop(0)
        self.seen.add(self._key(coords))
        self.pending[trial_id] = coords
        return dict(coords)

    def _close_batch(self) -> None:
        for score, coords in self.batch_scores:
            if self._better(score, self.incumbent_score):
                self.incumbent_score, self.incumbent = score, dict(coords)
        self.batch_scores = []

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        coords = self.pending.pop(trial_id, None)
        if coords is None:
            return
        value = (result or {}).get(self.metric) if not error else None
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.batch_scores.append((float(value), coords))

    _STATE = ("space", "names", "grids", "incumbent", "incumbent_score", "position", "passes", "queue",
              "pending", "batch_scores")

    def save(self, checkpoint_path: str) -> None:
        """The search state as JSON (plain data: nothing is unpickled on restore)."""
        state = {name: getattr(self, name) for name in self._STATE}
        state.update(seen=sorted(self.seen), metric=self.metric, mode=self.mode)
        atomic_write_text(Path(checkpoint_path), json.dumps(state, default=_plain))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        for name in self._STATE:
            setattr(self, name, state[name])
        self.seen = set(state["seen"])
        self.batch_scores = [(score, coords) for score, coords in self.batch_scores]
        self._metric, self._mode = state["metric"], state["mode"]


def _plain(value: Any) -> Any:
    """numpy scalars (from a search space's grid) as plain numbers for JSON."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def make_searcher(name: str, space: dict[str, Any], start: dict[str, Any], budget: int,
                  metric: str, mode: str, seed: int):
    """The Ray Tune search algorithm for a searcher name (``pbt`` members: random points)."""
    from ganbench.tune.space import optuna_distributions

    if name == "coordinate":
        return CoordinateSearcher(space, start, budget, metric, mode)
    if name == "tpe":
        import optuna

        sampler = optuna.samplers.TPESampler(multivariate=True, seed=seed)
        return TolerantOptunaSearch(space=optuna_distributions(space), metric=metric, mode=mode, sampler=sampler,
                            seed=seed)
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed)
