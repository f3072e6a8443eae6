"""The ``tune:`` block of a suite: what to search, how, at which budget, against what.

::

    tune:
      space:                       # per method row (its label, or its name)
        gngan:
          lr: {loguniform: [5.0e-5, 1.0e-3]}
          log_ratio_d: {uniform: [-1.0, 1.0]}
          alpha: {uniform: [0.01, 0.2]}
      coupled:                     # optional, per row: lr_g = lr, lr_d = lr * exp(log_ratio_d)
        gngan: {base: lr, targets: {lr_g: 0.0, lr_e: 0.0, lr_d: log_ratio_d}}
      searchers: [coordinate, tpe, pbt]    # or {name: random, scheduler: asha}
      scheduler: fifo              # for the entries that name none
      budget: 12                   # trials per (row, dataset, searcher); PBT: population size
      objective: {metric: fcd, mode: min, reference: train}
      asha: {grace_period: 1, reduction_factor: 2}        # in evaluations
      pbt: {perturbation_interval: 1, quantile_fraction: 0.25}   # in evaluations

Searchers (the outputs name each entry by its ``name``):

- ``random``: Ray's random sampling (seeded, so a restarted sweep proposes the same points);
- ``tpe``: Optuna's multivariate TPE (Bergstra et al. 2011; Falkner et al. 2018's
  multivariate kernel) through ``ray.tune.search.optuna.OptunaSearch``;
- ``coordinate``: one coordinate at a time from the defaults, keeping the best value of each
  before moving to the next (the GN-GAN report's way), :mod:`ganbench.tune.searchers`;
- ``pbt``: Population Based Training (Jaderberg et al. 2017): ``budget`` random members
  trained together, the worst copying the best's checkpoint and perturbing it; the coupled
  group moves with one shared multiplier. Its scheduler is always ``pbt``, and scheduler
  ``pbt`` is only valid with it (PBT rewrites the configs a searcher would have proposed).

Schedulers: ``fifo`` (every trial runs to the end), ``asha`` (Li et al. 2020, stops by
iterations reached: ``time_attr = step``), ``pbt``.

The objective is measured on ``objective.reference``, which must differ from
``eval.reference``: the split the final table reports on is never the one that chose the
configuration (Lucic et al. 2018's protocol). ``objective.metric`` is a value key (``fcd``,
``modes_kl``) of a metric that applies to every dataset of the suite.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SEARCHERS = ("random", "tpe", "coordinate", "pbt")
SCHEDULERS = ("fifo", "asha", "pbt")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objective(_Strict):
    metric: str
    #: default: the metric's own direction (lower or higher is better)
    mode: Literal["min", "max"] | None = None
    reference: Literal["train", "test"]


class SearcherEntry(_Strict):
    name: Literal["random", "tpe", "coordinate", "pbt"]
    scheduler: Literal["fifo", "asha", "pbt"] | None = None


class AshaSettings(_Strict):
    #: evaluations a trial runs before it can be stopped
    grace_period: int = Field(1, gt=0)
    reduction_factor: float = Field(2.0, gt=1)


class PbtSettings(_Strict):
    #: evaluations between two exploit/explore steps of a member
    perturbation_interval: int = Field(1, gt=0)
    quantile_fraction: float = Field(0.25, gt=0, le=0.5)
    resample_probability: float = Field(0.25, ge=0, le=1)


class TuneSettings(_Strict):
    space: dict[str, dict[str, Any]] = Field(min_length=1)
    coupled: dict[str, dict[str, Any]] = Field(default_factory=dict)
    searchers: list[SearcherEntry] = Field(min_length=1)
    scheduler: Literal["fifo", "asha", "pbt"] = "fifo"
    budget: int = Field(gt=0)
    objective: Objective
    #: seed of the search trials and of the searchers (default: the suite's first seed)
    seed: int | None = None
    asha: AshaSettings = Field(default_factory=AshaSettings)
    pbt: PbtSettings = Field(default_factory=PbtSettings)

    @field_validator("searchers", mode="before")
    @classmethod
    def _names_to_entries(cls, v):
        return [{"name": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v

    def scheduler_of(self, entry: SearcherEntry) -> str:
        if entry.name == "pbt":
            return "pbt"
        return entry.scheduler or ("fifo" if self.scheduler == "pbt" else self.scheduler)


def objective_metric(key: str) -> tuple[str, str] | None:
    """``(metric name, direction)`` of a value key (or of a one-output metric's name)."""
    from ganbench.registry import METRICS

    for name, cls in METRICS.items():
        if key in cls.outputs:
            return name, cls.outputs[key]
    if key in METRICS and len(METRICS.get(key).outputs) == 1:
        return key, next(iter(METRICS.get(key).outputs.values()))
    return None


def objective_key(key: str) -> str:
    """The value key an objective names (a one-output metric's name -> its output key)."""
    from ganbench.registry import METRICS

    if key in METRICS and key not in METRICS.get(key).outputs and len(METRICS.get(key).outputs) == 1:
        return next(iter(METRICS.get(key).outputs))
    return key


def objective_mode(tune: TuneSettings) -> str:
    found = objective_metric(tune.objective.metric)
    return tune.objective.mode or (found[1] if found else "min")


def check_tune(suite: Any, fail) -> None:
    """Semantic checks of ``suite.tune`` (``fail(path, what)`` raises the one-line error)."""
    from pydantic import ValidationError

    from ganbench.registry import DATASETS, METHODS, METRICS
    from ganbench.tune.space import SpaceError, check_coupled, check_space, coupling_coordinates, expand

    tune: TuneSettings = suite.tune
    rows = {entry.row: entry for entry in suite.methods}
    try:
        for row, space in tune.space.items():
            if row not in rows:
                fail(f"tune.space.{row}", f"no method with this name or label in the suite "
                                          f"(known: {', '.join(rows)})")
            check_space(space, f"tune.space.{row}")
        for row, coupled in tune.coupled.items():
            if row not in tune.space:
                fail(f"tune.coupled.{row}", "no search space for this row in tune.space")
            check_coupled(coupled, tune.space[row], f"tune.coupled.{row}")
    except SpaceError as err:
        fail(err.path, err.what)
    for row, space in tune.space.items():
        entry = rows[row]
        fields = METHODS.get(entry.name).Params.model_fields
        coupled = tune.coupled.get(row)
        used = coupling_coordinates(coupled)
        for name in space:
            if name not in fields and name not in used:
                fail(f"tune.space.{row}.{name}", f"not a hyperparameter of method {entry.name!r} "
                                                 "nor a coordinate used by tune.coupled")
        for target in (coupled or {}).get("targets", {}):
            if target not in fields:
                fail(f"tune.coupled.{row}.targets.{target}", f"not a hyperparameter of method {entry.name!r}")
            if target in space:
                fail(f"tune.coupled.{row}.targets.{target}", "is also a coordinate of tune.space; "
                                                             "a parameter is searched one way only")
        for dataset in suite.datasets:
            info = DATASETS.get(dataset).info
            for corner in ("low", "high"):
                coords = _corner(space, corner)
                try:
                    METHODS.get(entry.name).resolve_params(
                        {**suite.method_overrides(entry), **expand(coords, coupled)}, info)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    key = err["loc"][0] if err["loc"] else "?"
                    fail(f"tune.space.{row}", f"its {corner} end gives {key} = {err.get('input')!r}, which "
                                              f"method {entry.name!r} rejects ({err['msg']})")
    names = [s.name for s in tune.searchers]
    for i, entry in enumerate(tune.searchers):
        if entry.name in names[:i]:
            fail(f"tune.searchers[{i}]", f"{entry.name!r} appears twice")
        if entry.scheduler == "pbt" and entry.name != "pbt":
            fail(f"tune.searchers[{i}].scheduler", f"pbt rewrites the configs {entry.name!r} proposes; "
                                                   "use the searcher name pbt")
        if entry.name == "pbt" and entry.scheduler not in (None, "pbt"):
            fail(f"tune.searchers[{i}].scheduler", f"searcher pbt runs with scheduler pbt, got {entry.scheduler!r}")
    if tune.scheduler == "pbt" and "pbt" not in names:
        fail("tune.scheduler", "pbt is the scheduler of the pbt searcher; list pbt in tune.searchers")
    if tune.objective.reference == suite.eval.reference:
        fail("tune.objective.reference", f"must differ from eval.reference ({suite.eval.reference!r}): the "
                                         "split that picks the configuration is not the one the table reports on")
    found = objective_metric(tune.objective.metric)
    if found is None:
        keys = sorted({k for _, cls in METRICS.items() for k in cls.outputs})
        fail("tune.objective.metric", f"unknown value key {tune.objective.metric!r} (known: {', '.join(keys)})")
    metric, direction = found
    if direction not in ("min", "max"):  # "zero" (C_T): neither minimising nor maximising is right
        fail("tune.objective.metric", f"{tune.objective.metric} is best closest to 0, not lower or higher; "
                                      "tune on a value that is (e.g. authenticity, fcd)")
    if tune.objective.mode and tune.objective.mode != direction:
        fail("tune.objective.mode", f"{tune.objective.mode!r} but {tune.objective.metric} is better when "
                                    f"{'lower' if direction == 'min' else 'higher'} ({direction!r})")
    for dataset in suite.datasets:
        if not METRICS.get(metric).applies_to(DATASETS.get(dataset).info):
            fail("tune.objective.metric", f"metric {metric!r} does not apply to dataset {dataset!r}")
    if "pbt" in names and suite.train.iterations < 2 * suite.train.eval_every:
        fail("tune.searchers", "pbt needs at least two evaluations per trial (train.iterations >= "
                               "2 x train.eval_every)")


def _corner(space: dict[str, Any], which: str) -> dict[str, Any]:
    """Every coordinate at its low (or high) end: both ends must give valid parameters."""
    coords = {}
    for name, spec in space.items():
        b = next(iter(spec.values()))
        coords[name] = b[0] if which == "low" else b[-1]
    return coords
