"""Trial schedulers of a sweep: ``fifo``, ``asha`` and ``pbt``.

- ``fifo``: every trial trains for ``train.iterations``.
- ``asha``: Asynchronous Successive Halving (Li et al. 2020, "A System for Massively Parallel
  Hyperparameter Tuning"), on iterations reached (``time_attr = "step"``): rungs at
  ``grace_period x eval_every x reduction_factor^k`` iterations below ``train.iterations``.
- ``pbt``: Population Based Training (Jaderberg et al. 2017, "Population Based Training of
  Neural Networks"), ``time_attr = "step"``, exploit/explore every ``perturbation_interval``
  evaluations. Its explore step is :func:`ganbench.tune.space.perturb`: the coupled group moves
  with ONE shared multiplier on its base coordinate (all coupled learning rates together),
  the other coordinates one by one. PBT copies whole configs between members, so a
  population never mixes methods, datasets or seeds: ganbench runs one per
  (row, dataset, seed).
"""

from __future__ import annotations

import random
from typing import Any

from ganbench.tune.settings import TuneSettings
from ganbench.tune.space import perturb


class _Explore:
    """A picklable PBT explore function (Tune saves the scheduler with the experiment)."""

    def __init__(self, space: dict[str, Any], coupled: dict[str, Any] | None, seed: int,
                 resample_probability: float):
        self.space = space
        self.coupled = coupled
        self.rng = random.Random(seed)
        self.resample_probability = resample_probability

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        coords = {k: config[k] for k in self.space}
        return {**config, **perturb(coords, self.space, self.coupled, self.rng,
                                    resample_probability=self.resample_probability)}


def make_scheduler(name: str, tune: TuneSettings, iterations: int, eval_every: int,
                   space: dict[str, Any], coupled: dict[str, Any] | None, seed: int):
    """A Tune scheduler; the metric and mode come from the ``TuneConfig`` (Tune refuses both)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining

    if name == "asha":
        # rungs strictly below the last iteration, and no stop at max_t: a trial that reached its
        # last evaluation is never cut off while it writes its final status and artifacts
        max_t = max(1, iterations - 1)
        return ASHAScheduler(time_attr="step", max_t=max_t,
                             grace_period=min(max_t, tune.asha.grace_period * eval_every),
                             reduction_factor=tune.asha.reduction_factor, stop_last_trials=False)
    if name == "pbt":
        return PopulationBasedTraining(
            time_attr="step",
            perturbation_interval=tune.pbt.perturbation_interval * eval_every,
            quantile_fraction=tune.pbt.quantile_fraction,
            custom_explore_fn=_Explore(space, coupled, seed, tune.pbt.resample_probability),
            log_config=False)
    return FIFOScheduler()
