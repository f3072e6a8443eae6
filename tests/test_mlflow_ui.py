"""What a suite run leaves in MLflow and what the UI serves of it (issue 15 item 7, issue 14 item 8).

One real ``--local`` run of a tiny suite (2 trials) is shared by the tests. The UI is checked
through the MLflow server's own application (``mlflow.server.app``, the code ``ganbench ui`` serves,
driven in this process: starting the real server costs ~40 s on a loaded 2-core machine): the page
the experiment URL names answers, the experiment carries the saved view the URL opens (metric, param
and status columns, runs grouped by method), and the runs search API lists the runs with those
metric columns. A real headless browser is driven by ``benchmarks/ui_screenshot.py`` (a screenshot
and the rendered page's text), documented there: no browser can be installed from PyPI alone.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.runner import run_suite
from ganbench.tracking import KIND, KIND_TAG, STATUS_TAG, SUITE_TAG, TRIAL_TAG, VIEW_TAG
from ganbench.ui import suite_links
from tests.conftest import write_suite

SUITE = textwrap.dedent("""\
    name: uisuite
    datasets: [ring8]
    methods: [gan]
    params: {width: 4}
    seeds: [0, 1]
    train: {iterations: 40, batch_size: 16, eval_every: 20}
    eval: {metrics: [modes], num_samples: 100, reference: train}
""")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    import torch

    folder = tmp_path_factory.mktemp("ui")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        outcome = run_suite(write_suite(folder, SUITE), local=True, results_root=folder / "results")
    finally:
        torch.set_num_threads(threads)
    client = MlflowClient(outcome.tracking_uri)
    exp = client.get_experiment_by_name("uisuite")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    children = [r for r in runs if TRIAL_TAG in r.data.tags]
    parent = next(r for r in runs if SUITE_TAG in r.data.tags and TRIAL_TAG not in r.data.tags)
    return outcome, client, exp, parent, children


def test_trial_runs_have_metric_and_param_columns_and_spreads_as_metrics(finished):
    outcome, client, exp, parent, children = finished
    assert len(children) == 2 and {r.data.params["seed"] for r in children} == {"0", "1"}
    assert exp.tags[KIND_TAG] == KIND  # the UI opens it on the runs table, not the GenAI pages
    for run in children:
        assert run.data.tags[STATUS_TAG] == "finished" and run.info.status == "FINISHED"
        assert run.data.params["method"] == "gan" and run.data.params["dataset"] == "ring8"
        assert {"modes_covered", "modes_hq", "modes_kl"} <= set(run.data.metrics)
        # a protocol's float (a per-evaluation number) is a metric at every evaluation, not a param
        assert "protocol.modes.std" not in run.data.params
        history = client.get_metric_history(run.info.run_id, "protocol.modes.std")
        assert sorted(m.step for m in history) == [20, 40] and all(m.value == 0.01 for m in history)
        assert run.data.params["protocol.modes.n_gen"] == "100"  # settings stay params


def _artifacts(client, run_id):
    return {f.path for f in client.list_artifacts(run_id)} | {f.path for f in client.list_artifacts(run_id, "plots")}


def test_the_parent_run_carries_the_report_also_after_ganbench_report(finished):
    outcome, client, exp, parent, children = finished
    logged = _artifacts(client, parent.info.run_id)
    assert {"tables.md", "tables.tex", "results.csv"} <= logged
    assert any(p.startswith("plots/") and p.endswith(".png") for p in logged)
    # the parent's artifacts gone; `ganbench report` rebuilds the report and puts it back
    where = Path(urlparse(client.get_run(parent.info.run_id).info.artifact_uri).path)
    shutil.rmtree(where)
    assert not _artifacts(client, parent.info.run_id) - {"plots"}
    result = CliRunner().invoke(app, ["report", str(outcome.suite_dir)])
    assert result.exit_code == 0, result.output
    assert parent.info.run_id in result.output
    assert _artifacts(client, parent.info.run_id) >= logged


@pytest.fixture
def server_client(finished):
    """The MLflow server application on this results folder's store, as ``mlflow server`` runs it."""
    outcome = finished[0]
    import mlflow.server.handlers as handlers
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR, app as server_app

    before = mlflow.get_tracking_uri()
    saved = handlers._tracking_store
    handlers._tracking_store = None
    mp = pytest.MonkeyPatch()
    mp.setenv(BACKEND_STORE_URI_ENV_VAR, outcome.tracking_uri)
    try:
        yield server_app.test_client()
    finally:
        handlers._tracking_store = saved
        mp.undo()
        mlflow.set_tracking_uri(before)


def test_the_ui_url_opens_the_suites_experiment_on_a_view_with_metric_columns(finished, server_client):
    outcome, client, exp, parent, children = finished
    links = dict(suite_links(outcome.suite_dir.parent, "http://127.0.0.1:5000"))
    url = urlparse(links["uisuite"])
    route = urlparse(url.fragment)  # the UI's own route, after '#'
    assert route.path == f"/experiments/{exp.experiment_id}/runs"
    query = parse_qs(route.query)
    assert query["workflowType"] == ["machine_learning"]  # not MLflow 3's GenAI home page
    key = query["viewStateShareKey"][0]

    page = server_client.get(url.path or "/")
    assert page.status_code == 200 and b"<html" in page.data.lower()

    got = server_client.get(f"/ajax-api/2.0/mlflow/experiments/get?experiment_id={exp.experiment_id}")
    assert got.status_code == 200
    tags = {t["key"]: t["value"] for t in got.get_json()["experiment"]["tags"]}
    assert tags[KIND_TAG] == KIND
    view = json.loads(tags[VIEW_TAG + key])
    for column in ("metrics.`modes_covered`", "metrics.`modes_kl`", "params.`method`", "params.`seed`",
                   f"tags.`{STATUS_TAG}`"):
        assert column in view["selectedColumns"]
    assert not any(c.startswith(("metrics.`loss", "metrics.`protocol.")) for c in view["selectedColumns"])
    assert view["groupBy"]["groupByKeys"] == [{"mode": "param", "groupByData": "method"}]

    found = server_client.post("/ajax-api/2.0/mlflow/runs/search",
                               json={"experiment_ids": [exp.experiment_id], "max_results": 100})
    assert found.status_code == 200
    runs = found.get_json()["runs"]
    trial_runs = [r for r in runs if any(t["key"] == TRIAL_TAG for t in r["data"].get("tags", []))]
    assert len(trial_runs) == 2
    for run in trial_runs:
        metrics = {m["key"] for m in run["data"]["metrics"]}
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        assert {"modes_covered", "modes_hq", "modes_kl"} <= metrics and params["method"] == "gan"
