"""Search spaces, coupled coordinates, the coordinate searcher and the tune block's errors (no Ray)."""

from __future__ import annotations

import json
import math
import random
import textwrap

import pytest

from ganbench.suite import SuiteError, load_suite
from ganbench.tune.searchers import CoordinateSearcher
from ganbench.tune.space import (coordinate_grid, default_coords, expand, optuna_distributions, perturb,
                                 ray_domains)
from tests.conftest import write_suite

SPACE = {"lr": {"loguniform": [1e-4, 1e-2]}, "log_ratio_d": {"uniform": [-1.0, 1.0]},
         "n_critic": {"int": [1, 5]}, "matching": {"choice": ["expectation", "norm"]}}
COUPLED = {"base": "lr", "targets": {"lr_g": 0.0, "lr_e": 0.0, "lr_d": "log_ratio_d"}}


def test_expand_coupled_learning_rates():
    config = expand({"lr": 2e-4, "log_ratio_d": math.log(3.0), "n_critic": 2, "matching": "norm"}, COUPLED)
    assert config == pytest.approx({"lr_g": 2e-4, "lr_e": 2e-4, "lr_d": 6e-4, "n_critic": 2, "matching": "norm"})


def test_defaults_as_coordinates_round_trip():
    defaults = {"lr_g": 5e-4, "lr_e": 5e-4, "lr_d": 1e-3, "n_critic": 7, "matching": "expectation"}
    coords = default_coords(SPACE, COUPLED, defaults)
    assert coords["lr"] == pytest.approx(5e-4) and coords["log_ratio_d"] == pytest.approx(math.log(2.0))
    assert coords["n_critic"] == 5  # clipped into [1, 5]
    assert expand(coords, COUPLED)["lr_d"] == pytest.approx(1e-3)


def test_pbt_perturbation_moves_the_coupled_group_with_one_multiplier():
    rng = random.Random(0)
    coords = {"lr": 1e-3, "log_ratio_d": 0.5, "n_critic": 3, "matching": "norm"}
    before = expand(coords, COUPLED)
    factors = set()
    for _ in range(20):
        after = expand(perturb(coords, SPACE, COUPLED, rng), COUPLED)
        f = after["lr_g"] / before["lr_g"]
        factors.add(round(f, 6))
        assert after["lr_d"] / before["lr_d"] == pytest.approx(f)  # every coupled rate, same factor
        assert after["lr_e"] / before["lr_e"] == pytest.approx(f)
        assert after["n_critic"] in (2, 4)
    assert factors == {0.8, 1.25}


def test_conversions_to_ray_and_optuna():
    dists = optuna_distributions(SPACE)
    assert dists["lr"].log and (dists["lr"].low, dists["lr"].high) == (1e-4, 1e-2)
    assert (dists["n_critic"].low, dists["n_critic"].high) == (1, 5)
    assert list(dists["matching"].choices) == ["expectation", "norm"]
    domains = ray_domains(SPACE)
    samples = [domains["n_critic"].sample() for _ in range(200)]
    assert min(samples) == 1 and max(samples) == 5  # int bounds are inclusive
    assert coordinate_grid(SPACE["lr"], 3) == pytest.approx([1e-4, 1e-3, 1e-2])


def test_coordinate_searcher_sweeps_one_coordinate_at_a_time_and_keeps_the_best():
    space = {"a": {"uniform": [0.0, 1.0]}, "b": {"uniform": [0.0, 1.0]}}
    searcher = CoordinateSearcher(space, {"a": 0.5, "b": 0.5}, budget=5, metric="loss", mode="min")

    def loss(c):
        return (c["a"] - 1.0) ** 2 + (c["b"] - 0.0) ** 2

    proposed = []
    n = 0
    while True:
        batch = []
        while True:
            s = searcher.suggest(f"t{n}")
            if s is None or s == CoordinateSearcher.FINISHED:
                break
            batch.append((f"t{n}", s))
            n += 1
        for tid, c in batch:
            searcher.on_trial_complete(tid, {"loss": loss(c)})
        proposed += [c for _, c in batch]
        if s == CoordinateSearcher.FINISHED or n > 20:
            break
    assert proposed[0] == {"a": 0.5, "b": 0.5}  # the defaults first
    assert [c["b"] for c in proposed[1:3]] == [0.5, 0.5]  # then a alone, b at the incumbent
    assert {c["a"] for c in proposed[3:5]} == {1.0}  # b alone, a at its best value
    assert {c["b"] for c in proposed[3:5]} == {0.0, 1.0}
    assert searcher.incumbent == {"a": 1.0, "b": 0.0}
    keys = [tuple(sorted(c.items())) for c in proposed]
    assert len(keys) == len(set(keys))  # no point twice


def test_coordinate_searcher_state_is_json_and_restores_mid_batch(tmp_path):
    """Tune saves a searcher with the experiment; ours is plain JSON (never unpickled) and a
    restored copy proposes exactly what the original would have proposed next."""
    space = {"a": {"uniform": [0.0, 1.0]}, "k": {"choice": ["x", "y"]}}

    def drive(searcher, first, count):
        out = []
        for n in range(first, first + count):
            s = searcher.suggest(f"t{n}")
            if isinstance(s, dict):
                searcher.on_trial_complete(f"t{n}", {"loss": s["a"] + (s["k"] == "y")})
            out.append(s)
        return out

    original = CoordinateSearcher(space, {"a": 0.5, "k": "x"}, budget=6, metric="loss", mode="min")
    drive(original, 0, 2)
    original.suggest("pending")  # one trial still running when the sweep is saved
    path = tmp_path / "searcher-state"
    original.save(str(path))
    json.loads(path.read_text())  # plain JSON
    restored = CoordinateSearcher({}, {}, budget=1)
    restored.restore(str(path))
    assert restored.metric == "loss" and restored.mode == "min" and "pending" in restored.pending
    for s in (original, restored):
        s.on_trial_complete("pending", {"loss": 0.1})
    assert drive(restored, 10, 4) == drive(original, 10, 4)


BASE = textwrap.dedent("""\
    name: tv
    datasets: [ring8]
    methods: [gngan]
    train: {iterations: 40, eval_every: 20}
    eval: {metrics: [modes], num_samples: 200, reference: test}
    tune:
      space: {gngan: {lr: {loguniform: [1.0e-4, 1.0e-2]}, log_ratio_d: {uniform: [-1, 1]}}}
      coupled: {gngan: {base: lr, targets: {lr_g: 0.0, lr_d: log_ratio_d}}}
      searchers: [tpe, {name: random, scheduler: asha}, pbt]
      budget: 4
      objective: {metric: modes_kl, reference: train}
    quick: {tune: {budget: 2}}
""")


@pytest.mark.parametrize("old,new,message", [
    ("loguniform: [1.0e-4", "logscale: [1.0e-4",
     "tune.space.gngan.lr: expected one of loguniform, uniform, int, choice, got ['logscale']"),
    ("reference: train}", "reference: test}", "tune.objective.reference: must differ from eval.reference ('test')"),
    ("modes_kl", "fcd", "tune.objective.metric: metric 'fcd' does not apply to dataset 'ring8'"),
    ("modes_kl", "nope", "tune.objective.metric: unknown value key 'nope'"),
    ("log_ratio_d: {uniform", "lambda_q: {uniform", "tune.coupled.gngan.targets.lr_d: expected a number or a "
                                                    "coordinate of the space, got 'log_ratio_d'"),
    ("space: {gngan:", "space: {gan:", "tune.space.gan: no method with this name or label"),
    ("{name: random, scheduler: asha}", "{name: random, scheduler: pbt}", "tune.searchers[1].scheduler: pbt rewrites"),
    ("[-1, 1]", "[1, -1]", "tune.space.gngan.log_ratio_d.uniform: expected low < high"),
    ("budget: 4", "budget: many", "tune.budget: expected an integer, got 'many'"),
    ("lr_g: 0.0", "lr_g: 1000.0", "tune.coupled.gngan.targets.lr_g: expected a log-ratio within ±20, got 1000.0"),
    ("[-1, 1]", "[0, 1.0e+6]", "tune.space.gngan.log_ratio_d.uniform: expected a log-ratio within ±20"),
])
def test_tune_block_errors_are_one_line_with_the_key(tmp_path, old, new, message):
    assert old in BASE
    path = write_suite(tmp_path, BASE.replace(old, new))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_space_key_must_be_a_hyperparameter(tmp_path):
    path = write_suite(tmp_path, BASE.replace("log_ratio_d: {uniform: [-1, 1]}}}",
                                              "log_ratio_d: {uniform: [-1, 1]}, lamda_m1: {uniform: [0, 1]}}}"))
    with pytest.raises(SuiteError, match=r"tune.space.gngan.lamda_m1: not a hyperparameter of method 'gngan'"):
        load_suite(path)


def test_quick_overrides_the_budget(tmp_path):
    path = write_suite(tmp_path, BASE)
    assert load_suite(path).tune.budget == 4
    quick = load_suite(path, quick=True).tune
    assert quick.budget == 2 and [s.name for s in quick.searchers] == ["tpe", "random", "pbt"]
    assert [quick.scheduler_of(s) for s in quick.searchers] == ["fifo", "asha", "pbt"]


def test_tpe_searcher_survives_a_trial_that_failed_before_its_first_evaluation():
    from ganbench.tune.searchers import make_searcher

    space = {"lr": {"loguniform": [1e-4, 1e-2]}, "beta1": {"uniform": [0.0, 0.9]}}
    tpe = make_searcher("tpe", space, {"lr": 1e-3, "beta1": 0.5}, 4, "modes_kl", "min", seed=0)
    first = tpe.suggest("t0")
    assert set(first) == {"lr", "beta1"} and 1e-4 <= first["lr"] <= 1e-2
    tpe.on_trial_result("t0", {"status": "failed", "training_iteration": 1})  # no objective: skipped, not a KeyError
    tpe.on_trial_complete("t0", {"status": "failed"})
    tpe.suggest("t1")
    tpe.on_trial_result("t1", {"step": 10, "modes_kl": 1.5, "training_iteration": 1})
    tpe.on_trial_complete("t1", {"step": 10, "modes_kl": 1.5})
    states = [t.state.name for t in tpe._ot_study.trials]
    assert states == ["PRUNED", "COMPLETE"]
    again = make_searcher("tpe", space, {}, 4, "modes_kl", "min", seed=0).suggest("t0")
    assert again == first  # seeded: a restarted sweep proposes the same first point
