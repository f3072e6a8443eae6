"""Property test: malformed suites never produce a traceback, only a one-line SuiteError."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganbench.suite import SuiteError, parse_suite
from tests.conftest import mutate_document

BASE = {
    "name": "fuzz",
    "datasets": ["ring8"],
    "methods": ["gan", {"name": "hinge", "params": {"lr_d": 1e-3}}],
    "seeds": [0, 1],
    "train": {"iterations": 10, "batch_size": 8, "eval_every": 5},
    "eval": {"metrics": ["modes"], "num_samples": 100, "reference": "train"},
    "quick": {"seeds": [0], "train": {"iterations": 4, "eval_every": 2}},
    "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0},
}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["gan", "mnist", "fid", "auto", "train", "-1"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
paths = st.lists(st.sampled_from(["name", "datasets", "methods", "seeds", "train", "eval", "quick", "resources",
                                  "params", "iterations", "metrics", "num_samples", "lr_g", 0, 1, "x"]),
                 min_size=1, max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(paths, values), min_size=1, max_size=3), st.booleans())
def test_malformed_suites_give_one_line_errors(mutations, quick):
    doc = copy.deepcopy(BASE)
    for path, value in mutations:
        doc = mutate_document(doc, path, value)
    try:
        suite = parse_suite(doc, "fuzz.yaml", quick=quick)
        suite.expand()
    except SuiteError as err:
        message = str(err)
        assert message.startswith("fuzz.yaml: ") and "\n" not in message


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_is_yaml_error_or_schema_error(text):
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    try:
        parse_suite(raw, "t.yaml")
    except SuiteError as err:
        assert "\n" not in str(err)
