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

from ray.tune.schedulers import PopulationBasedTraining

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


class FinalStepKeptPBT(PopulationBasedTraining):
    """PBT that never exploits at a member's last evaluation.

    Ray's PBT may exploit whenever a perturbation interval has passed, the final evaluation
    included; a member exploited there would end as a copy of its donor (its checkpoint and its
    last result line), so the sweep would count the donor's result twice and credit it to the
    wrong member. At ``final_step`` this scheduler lets the member finish as itself.
    """

    def __init__(self, final_step: int, **kwargs):
        super().__init__(**kwargs)
        self.final_step = final_step

    def on_trial_result(self, tune_controller, trial, result):
        if result.get("step", 0) >= self.final_step:
            return self.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)


def make_scheduler(name: str, tune: TuneSettings, iterations: int, eval_every: int,
                   space: dict[str, Any], coupled: dict[str, Any] | None, seed: int):
    """A Tune scheduler; the metric and mode come from the ``TuneConfig`` (Tune refuses both)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if name == "asha":
        # rungs strictly below the last iteration, and no stop at max_t: a trial that reached its
        # last evaluation is never cut off while it writes its final status and artifacts
        max_t = max(1, iterations - 1)
        return ASHAScheduler(time_attr="step", max_t=max_t,
                             grace_period=min(max_t, tune.asha.grace_period * eval_every),
                             reduction_factor=tune.asha.reduction_factor, stop_last_trials=False)
    if name == "pbt":
        return FinalStepKeptPBT(
            final_step=iterations,
            time_attr="step",
            perturbation_interval=tune.pbt.perturbation_interval * eval_every,
            quantile_fraction=tune.pbt.quantile_fraction,
            custom_explore_fn=_Explore(space, coupled, seed, tune.pbt.resample_probability),
            log_config=False)
    return FIFOScheduler()
