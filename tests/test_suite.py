"""Suite files: one-line errors for malformed input, grid expansion and hashing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ganbench.suite import SuiteError, load_suite
from tests.conftest import REPO, write_suite

GOOD = textwrap.dedent("""\
    name: t
    datasets: [ring8]
    methods:
      - gan
      - {name: wgan_gp, params: {lambda_gp: 0.1}}
    seeds: [0, 1, 2]
    train: {iterations: 100, batch_size: 32, eval_every: 50}
    eval: {metrics: [modes], num_samples: 500, reference: train}
    quick: {seeds: [0], train: {iterations: 20, eval_every: 10}, params: {width: 8}}
""")


def test_expansion_counts_and_merges(tmp_path):
    suite = load_suite(write_suite(tmp_path, GOOD))
    specs = suite.expand()
    assert len(specs) == 1 * 2 * 3
    wgp = [s for s in specs if s.method == "wgan_gp"][0]
    assert wgp.param_dict["lambda_gp"] == 0.1
    assert wgp.param_dict["n_critic"] == 5  # method default kept
    assert wgp.param_dict["z_dim"] == 2  # data-kind default for points
    assert wgp.iterations == 100 and wgp.metrics == ("modes",)


def test_quick_profile_is_deep_merged(tmp_path):
    suite = load_suite(write_suite(tmp_path, GOOD), quick=True)
    specs = suite.expand()
    assert [s.seed for s in specs] == [0, 0]
    assert all(s.iterations == 20 and s.eval_every == 10 and s.batch_size == 32 for s in specs)
    assert all(s.param_dict["width"] == 8 for s in specs)
    assert [s for s in specs if s.method == "wgan_gp"][0].param_dict["lambda_gp"] == 0.1


def test_hash_is_stable_and_content_based(tmp_path):
    a = load_suite(write_suite(tmp_path, GOOD)).expand()
    b = load_suite(write_suite(tmp_path, GOOD, "again.yaml")).expand()
    assert [s.trial_id for s in a] == [s.trial_id for s in b]
    assert len({s.trial_id for s in a}) == len(a)
    changed = load_suite(write_suite(tmp_path, GOOD.replace("lambda_gp: 0.1", "lambda_gp: 0.2"), "c.yaml")).expand()
    assert {s.trial_id for s in changed} & {s.trial_id for s in a} == {s.trial_id for s in a if s.method == "gan"}
    spec = a[0]
    assert type(spec).from_dict(spec.to_dict()) == spec
    assert hash(spec) == hash(type(spec).from_dict(spec.to_dict()))


BAD = [
    ("methods:\n  - gan\n  - hinge\n  - {name: lsgan, params: {lr_g: fast}}\n",
     "methods[2].params.lr_g: expected a number, got 'fast'"),
    ("methods: [gan, nosuchgan]\n", "methods[1].name: unknown method 'nosuchgan'"),
    ("datasets: [cifar99]\n", "datasets[0]: unknown dataset 'cifar99'"),
    ("eval: {metrics: [modes, bogus], num_samples: 100}\n", "eval.metrics[1]: unknown metric 'bogus'"),
    ("eval: {metrics: [fcd], num_samples: 100}\n", "eval.metrics[0]: metric 'fcd' does not apply to dataset 'ring8'"),
    ("train: {iterations: ten}\n", "train.iterations: expected an integer, got 'ten'"),
    ("train: {iterations: 10, batch: 3}\n", "train.batch: unknown key"),
    ("colour: blue\n", "colour: unknown key"),
    ("methods: [{name: gan, params: {lr_gg: 0.1}}]\n", "methods[0].params.lr_gg: unknown key"),
    ("eval: {reference: valid}\n", "eval.reference: expected 'train' or 'test', got 'valid'"),
    ("resources: {gpus_per_trial: lots}\n", "resources.gpus_per_trial"),
    ("seeds: [1, 1]\n", "seeds: repeated seed"),
    ("quick: {train: {iterations: -3}}\n", "quick.train.iterations: "),
    ("methods: [gan\n", "invalid YAML"),
]


def _with(override: str) -> str:
    base = {"name": "name: t\n", "datasets": "datasets: [ring8]\n", "methods": "methods: [gan]\n",
            "eval": "eval: {metrics: [modes], num_samples: 100}\n"}
    key = override.split(":", 1)[0]
    base[key] = override
    return "".join(base.values()) if key in base else "".join(base.values()) + override


@pytest.mark.parametrize("override,expected", BAD)
def test_malformed_suite_gives_one_line(tmp_path, override, expected):
    path = write_suite(tmp_path, _with(override))
    with pytest.raises(SuiteError) as info:
        load_suite(path, quick=True)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "nope.yaml")
    with pytest.raises(SuiteError, match=r"\(top level\): expected a mapping"):
        load_suite(write_suite(tmp_path, "- just\n- a list\n"))


def test_cli_validate_exit_codes(tmp_path):
    bad = write_suite(tmp_path, _with(BAD[0][0]))
    proc = subprocess.run([sys.executable, "-m", "ganbench", "validate", str(bad)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and BAD[0][1] in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    good = subprocess.run([sys.executable, "-m", "ganbench", "validate", "suites/mnist_all.yaml"],
                          capture_output=True, text=True, cwd=REPO)
    assert good.returncode == 0, good.stderr
    assert "69 trials" in good.stdout


def test_quick_method_params_reach_only_the_named_method(tmp_path):
    text = GOOD.replace("quick: {", "quick: {method_params: {wgan_gp: {n_critic: 2}}, ")
    specs = load_suite(write_suite(tmp_path, text), quick=True).expand()
    by_method = {s.method: s.param_dict for s in specs}
    assert by_method["wgan_gp"]["n_critic"] == 2 and by_method["wgan_gp"]["lambda_gp"] == 0.1
    assert by_method["gan"]["n_critic"] == 1
    full = load_suite(write_suite(tmp_path, text, "full.yaml")).expand()
    assert {s.param_dict["n_critic"] for s in full if s.method == "wgan_gp"} == {5}
    bad = text.replace("method_params: {wgan_gp:", "method_params: {wgan_xx:")
    with pytest.raises(SuiteError, match=r"quick.method_params.wgan_xx: no method with this name or label"):
        load_suite(write_suite(tmp_path, bad, "bad.yaml"), quick=True)
    typo = text.replace("{n_critic: 2}", "{n_critic: two}")
    with pytest.raises(SuiteError, match=r"quick.methods\[1\].params.n_critic: expected an integer, got 'two'"):
        load_suite(write_suite(tmp_path, typo, "typo.yaml"), quick=True)
