"""Property test: a malformed ``tune:`` block never gives a traceback, only a one-line SuiteError."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganbench.suite import SuiteError, parse_suite
from tests.conftest import mutate_document

BASE = {
    "name": "fuzz_tune",
    "datasets": ["ring8"],
    "methods": ["gngan", {"name": "gan", "label": "g2"}],
    "seeds": [0, 1],
    "train": {"iterations": 10, "batch_size": 8, "eval_every": 5},
    "eval": {"metrics": ["modes"], "num_samples": 100, "reference": "test"},
    "tune": {
        "space": {"gngan": {"lr": {"loguniform": [1e-4, 1e-2]}, "log_ratio_d": {"uniform": [-1.0, 1.0]},
                            "n_critic": {"int": [1, 3]}, "matching": {"choice": ["expectation", "norm"]}}},
        "coupled": {"gngan": {"base": "lr", "targets": {"lr_g": 0.0, "lr_d": "log_ratio_d"}}},
        "searchers": ["tpe", {"name": "random", "scheduler": "asha"}, "pbt"],
        "budget": 4,
        "objective": {"metric": "modes_kl", "reference": "train"},
    },
    "quick": {"tune": {"budget": 2}},
}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["lr", "log_ratio_d", "lr_g", "gngan", "pbt", "asha",
                                                          "uniform", "choice", "fcd", "train", "test"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(
                                                           ["lr", "uniform", "int", "choice", "loguniform", "base",
                                                            "targets", "x"]), inner, max_size=3)),
                      max_leaves=6)
paths = st.lists(st.sampled_from(["tune", "space", "coupled", "gngan", "g2", "lr", "log_ratio_d", "n_critic",
                                  "matching", "loguniform", "uniform", "int", "choice", "base", "targets",
                                  "lr_g", "lr_d", "searchers", "scheduler", "budget", "objective", "metric",
                                  "mode", "reference", "quick", "asha", "pbt", 0, 1, 2]),
                 min_size=1, max_size=5)


def test_the_base_suite_is_valid():
    suite = parse_suite(copy.deepcopy(BASE), "fuzz.yaml", quick=True)
    assert suite.tune.budget == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(paths, values), min_size=1, max_size=3), st.booleans())
def test_malformed_tune_blocks_give_one_line_errors(mutations, quick):
    doc = copy.deepcopy(BASE)
    for path, value in mutations:
        doc = mutate_document(doc, ["tune", *path] if path[0] not in ("tune", "quick") else path, value)
    try:
        parse_suite(doc, "fuzz.yaml", quick=quick)
    except SuiteError as err:
        message = str(err)
        assert message.startswith("fuzz.yaml: ") and "\n" not in message
