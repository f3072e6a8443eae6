"""MLflow tracking: a parent run per suite run, a child run per trial.

Resuming never duplicates runs: a suite run that was killed left its parent run
``RUNNING`` (or ``FAILED``); the next ``ganbench run`` of the same grid reuses that parent
(:func:`start_parent_run`), and a trial that was interrupted or failed re-attaches to its
own child run, found by its ``ganbench.trial_id`` tag whatever its parent, and is
re-parented (:class:`TrialRun`). So each trial has exactly one child run.

The default store is SQLite (``sqlite:///<results>/mlflow.db``; MLflow 3 refuses a plain
file store). The driver creates the database and the experiment before any trial starts,
so trials running in parallel only add runs. Trials talk to the store through an explicit
``MlflowClient`` (no global active run), which works the same in-process, in a Ray worker,
or on a remote node pointed at a tracking server.

The SQLite store survives a kill at any moment (:func:`ensure_store`, run by the driver before
Ray starts). MLflow creates a store by running ~70 alembic migrations, committed one by one, so
a kill in the middle (the first seconds of a first run) used to leave a store that every later
run failed on (``table ... already exists``). Now a store is only ever created or migrated under
a temporary name (``.mlflow.db.tmp<pid>``) and renamed into place when MLflow has finished with
it; temporaries of a killed driver are removed at the next start. A ``mlflow.db`` that is not a
usable MLflow store anyway (zero bytes, not SQLite, another program's database, a half-made
schema, a revision this MLflow does not know, a failing integrity check) is moved aside to
``mlflow.db.broken-<time>`` (never deleted) and a new store is rebuilt from the results folder,
which holds every trial's spec, evaluations and status: one child run per trial (params,
metrics at every step, status, samples and checkpoint as artifacts) under one parent run per
suite. Runs of a sweep's search (``tune/``) are not rebuilt: only the trials under ``trials/``.
Store creation is serialised by a lock file beside the store (two drivers of different suites
may share one results folder).

Artifact locations follow the results folder: the experiment's and runs' artifact locations
are rewritten at each start when the folder was moved or copied (MLflow stores them as absolute
``file://`` URIs), so a copied folder never logs into the old one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

TRIAL_TAG = "ganbench.trial_id"
SUITE_TAG = "ganbench.suite"
STATUS_TAG = "ganbench.status"
PARENT_TAG = "mlflow.parentRunId"
#: the identity of a suite run's grid (suite file, profile, trials...): a resumed run reuses the parent
RUN_KEY_TAG = "ganbench.run_key"


def default_tracking_uri(results_root: Path) -> str:
    return f"sqlite:///{Path(results_root).resolve() / 'mlflow.db'}"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for any other store."""
    prefix = "sqlite:///"
    return Path(tracking_uri[len(prefix):]) if tracking_uri.startswith(prefix) else None


@functools.lru_cache(maxsize=None)
def _head_revision() -> str:
    """The schema revision this MLflow's stores are at (reading its ~70 migration scripts takes
    seconds on a busy machine, so it is remembered per MLflow version in the ganbench cache)."""
    import mlflow

    from ganbench.paths import atomic_write_text, cache_dir

    known = cache_dir() / "mlflow-schema-heads.json"
    try:
        heads = json.loads(known.read_text())
    except (OSError, ValueError):
        heads = {}
    if not isinstance(heads, dict):
        heads = {}
    if not isinstance(heads.get(mlflow.__version__), str):
        from mlflow.store.db.utils import _get_latest_schema_revision

        heads[mlflow.__version__] = _get_latest_schema_revision()
        try:
            atomic_write_text(known, json.dumps(heads))
        except OSError:  # a read-only cache only costs the seconds again
            pass
    return heads[mlflow.__version__]


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    return {r.revision for r in ScriptDirectory.from_config(_get_alembic_config("")).walk_revisions()}


def inspect_store(db: Path) -> tuple[str, str]:
    """``(state, why)`` of a SQLite store file: ``missing``, ``ok``, ``old`` (an older MLflow's
    complete store: migrate it) or ``broken`` (rebuild it), read without writing to it."""
    db = Path(db)
    if not db.exists():
        return "missing", "no store yet"
    if db.stat().st_size == 0:
        return "broken", "zero bytes"
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        return "broken", f"cannot open: {exc}"
    try:
        tables = {row[0] for row in con.execute("select name from sqlite_master where type = 'table'")}
        if "experiments" not in tables or "runs" not in tables:
            return "broken", "not an MLflow store (no experiments/runs tables)"
        if "alembic_version" not in tables:
            return "broken", "half-made store (no schema revision recorded)"
        leftovers = sorted(t for t in tables if t.startswith("_alembic_tmp"))
        if leftovers:
            return "broken", f"half-migrated store (leftover {leftovers[0]})"
        rows = con.execute("select version_num from alembic_version").fetchall()
        if len(rows) != 1:
            return "broken", "half-made store (no single schema revision)"
        revision = rows[0][0]
        if con.execute("pragma quick_check").fetchone()[0] != "ok":
            return "broken", "damaged database (integrity check failed)"
    except sqlite3.DatabaseError as exc:
        return "broken", f"not a usable SQLite database ({exc})"
    finally:
        con.close()
    if revision == _head_revision():
        return "ok", f"schema {revision}"
    if revision in _known_revisions():
        return "old", f"schema {revision} of an older MLflow"
    return "broken", f"schema revision {revision} unknown to this MLflow"


def _open_store(db: Path) -> None:
    """Let MLflow create the store in ``db`` and close it again."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", (db.parent / "mlartifacts").as_uri())
    store.engine.dispose()


def _upgrade_store(db: Path) -> None:
    """Migrate an older MLflow's store in ``db`` to this MLflow's schema (``mlflow db upgrade``)."""
    import mlflow.store.db.utils as db_utils

    engine = db_utils.create_sqlalchemy_engine_with_retry(f"sqlite:///{db}")
    try:
        db_utils._upgrade_db(engine)
    finally:
        engine.dispose()


def _new_store(db: Path) -> None:
    """Write a new, empty store at ``db`` (a temporary name: the caller renames it).

    MLflow builds a store by running its ~70 schema migrations, 10-20 s on a busy small machine;
    the first store of each MLflow schema revision is built so once, under a temporary name, in
    the ganbench cache (``mlflow-store-<revision>.db``), and every new store is a copy of it
    (SQLite's online backup), with its artifact locations pointed at ``db``'s folder.
    """
    from filelock import FileLock

    from ganbench.paths import cache_dir

    template = cache_dir() / f"mlflow-store-{_head_revision()}.db"
    with FileLock(str(template.with_name(f".{template.name}.lock"))):
        if inspect_store(template)[0] != "ok":
            for stale in template.parent.glob(f".{template.name}.tmp*"):  # a build that was killed
                _remove_db(stale)
            tmp = template.with_name(f".{template.name}.tmp{os.getpid()}")
            try:
                _open_store(tmp)
                os.replace(tmp, template)
            finally:
                _remove_db(tmp)
    src, out = sqlite3.connect(f"{template.resolve().as_uri()}?mode=ro", uri=True), sqlite3.connect(db)
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()
    follow_moved_results(f"sqlite:///{db}", db.parent)


def _remove_db(db: Path) -> None:
    for path in (db, db.with_name(db.name + "-journal"), db.with_name(db.name + "-wal"),
                 db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def ensure_store(tracking_uri: str, results_root: Path) -> list[str]:
    """Make the SQLite store at ``tracking_uri`` usable whatever a killed run left; return notes.

    Nothing to do for a tracking server. See the module docstring for the states handled.
    """
    db = sqlite_path(tracking_uri)
    if db is None:
        return []
    from filelock import FileLock

    if inspect_store(db)[0] == "ok" and not any(db.parent.glob(f".{db.name}.tmp*")):
        return []  # nothing to repair: no lock needed (a read-only folder can still be viewed)
    db.parent.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with FileLock(str(db.with_name(f".{db.name}.lock"))):
        for stale in db.parent.glob(f".{db.name}.tmp*"):  # a creation or migration that was killed
            stale.unlink(missing_ok=True)
        state, why = inspect_store(db)
        if state == "ok":
            pass
        elif state == "old":
            tmp = db.with_name(f".{db.name}.tmp{os.getpid()}")
            try:
                con, out = sqlite3.connect(db, timeout=30), sqlite3.connect(tmp)
                con.backup(out)
                con.close()
                out.close()
                _upgrade_store(tmp)
                if inspect_store(tmp)[0] != "ok":
                    raise RuntimeError("not at the head revision after the upgrade")
                os.replace(tmp, db)
                notes.append(f"{db}: migrated from {why}")
            except Exception as exc:  # the migration itself fails: rebuild instead
                _remove_db(tmp)
                state, why = "broken", f"{why}, migration failed ({type(exc).__name__})"
        if state in ("missing", "broken"):
            if state == "broken":
                aside = db.with_name(f"{db.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
                os.replace(db, aside)
                for suffix in ("-journal", "-wal", "-shm"):
                    side = db.with_name(db.name + suffix)
                    if side.exists():
                        os.replace(side, aside.with_name(aside.name + suffix))
                notes.append(f"{db}: {why}; moved to {aside.name}, rebuilding it from {results_root}")
            tmp = db.with_name(f".{db.name}.tmp{os.getpid()}")
            try:
                _new_store(tmp)
                if state == "broken":
                    rebuilt = rebuild_from_results(f"sqlite:///{tmp}", Path(results_root))
                    notes.append(f"{db}: rebuilt {rebuilt} trial runs from the results folder")
                os.replace(tmp, db)
            finally:
                _remove_db(tmp)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return notes


def rebuild_from_results(tracking_uri: str, results_root: Path) -> int:
    """Recreate one run per trial folder under ``results_root/<suite>/trials/``; return how many."""
    from ganbench.paths import read_json_lines

    client = MlflowClient(tracking_uri)
    count = 0
    for suite_json in sorted(Path(results_root).glob("*/suite.json")):
        try:
            name = json.loads(suite_json.read_text()).get("name") or suite_json.parent.name
        except (OSError, ValueError):
            continue
        trials = sorted(p for p in (suite_json.parent / "trials").glob("*/spec.json"))
        if not trials:
            continue
        experiment_id = ensure_experiment(tracking_uri, name, Path(results_root) / "mlartifacts")
        parent = client.create_run(experiment_id, run_name=f"{name} (rebuilt)",
                                   tags={SUITE_TAG: name, "ganbench.rebuilt": "true"})
        for spec_path in trials:
            folder = spec_path.parent
            spec, status = _read_dict(spec_path), _read_dict(folder / "status.json")
            if spec is None:
                continue
            status = status or {"status": "unknown"}
            _rebuild_trial(client, experiment_id, parent.info.run_id, folder, spec, status,
                           read_json_lines(folder / "evals.jsonl"))
            count += 1
        client.set_terminated(parent.info.run_id, "FINISHED")
    return count


def _read_dict(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _rebuild_trial(client: MlflowClient, experiment_id: str, parent_id: str, folder: Path,
                   spec: dict[str, Any], status: dict[str, Any], evals: list[dict[str, Any]]) -> None:
    from ganbench.spec import TrialSpec

    trial_id = spec.get("trial_id") or folder.name
    fields = {k: v for k, v in spec.items() if k not in ("trial_id", "suite")}
    try:
        ts = TrialSpec.from_dict(fields)
        params, name = ts.flat(), ts.display
    except (TypeError, KeyError, ValueError):
        params, name = {}, trial_id
    run = client.create_run(experiment_id, run_name=name, tags={
        TRIAL_TAG: trial_id, PARENT_TAG: parent_id, STATUS_TAG: str(status.get("status")),
        "ganbench.rebuilt": "true"})
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param(k, _short(v)) for k, v in sorted(params.items())])
    metrics = []
    for record in evals:
        step = record.get("step")
        if not isinstance(step, int):
            continue
        values = dict(record.get("values") or {})
        if "elapsed_s" in record:
            values["elapsed_s"] = record["elapsed_s"]
        for key, value in values.items():
            if isinstance(value, (int, float)) and value is not None:
                metrics.append(Metric(key, float(value), 0, step))
    for i in range(0, len(metrics), 900):
        client.log_batch(run_id, metrics=metrics[i:i + 900])
    for artifact in ("samples.png", "samples.npy", "checkpoint.pt"):
        if (folder / artifact).exists():
            client.log_artifact(run_id, str(folder / artifact))
    done = status.get("status") in ("finished", "diverged")
    client.set_terminated(run_id, "FINISHED" if done else "FAILED")


def follow_moved_results(tracking_uri: str, results_root: Path) -> int:
    """Re-root artifact locations recorded under another folder's ``mlartifacts``; return how many.

    MLflow records artifact locations as absolute ``file://`` URIs; a results folder moved or
    copied elsewhere would keep logging into the old place. Only locations that end in the
    store's own ``mlartifacts`` layout are rewritten (a user's own artifact root is left alone).
    """
    db = sqlite_path(tracking_uri)
    if db is None or not db.exists():
        return 0
    here = (Path(results_root).resolve() / "mlartifacts").as_uri()
    changed = 0
    with sqlite3.connect(db, timeout=30) as con:
        rows = con.execute("select experiment_id, artifact_location from experiments").fetchall()
        for exp_id, location in rows:
            if not location or not location.startswith("file://") or location == here:
                continue
            old_root = location.rsplit("/mlartifacts", 1)[0] + "/mlartifacts" if "/mlartifacts" in location else None
            if old_root is None or old_root == here:
                continue
            con.execute("update experiments set artifact_location = ? where experiment_id = ?",
                        (here + location[len(old_root):], exp_id))
            cur = con.execute("update runs set artifact_uri = ? || substr(artifact_uri, ?) "
                              "where experiment_id = ? and artifact_uri like ?",
                              (here, len(old_root) + 1, exp_id, old_root + "/%"))
            changed += 1 + max(cur.rowcount, 0)
    return changed


def _retry(fn, *args, attempts: int = 8, **kwargs):
    """SQLite allows one writer at a time: retry briefly when the database is locked."""
    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # mlflow wraps sqlite's OperationalError
            if "locked" not in str(exc).lower() or i == attempts - 1:
                raise
            time.sleep(0.2 * (i + 1))


def ensure_experiment(tracking_uri: str, name: str, artifact_root: Path | None = None) -> str:
    """Create the store (if needed) and the experiment; return its id. Driver only.

    With a tracking server (``http(s)://``) the server decides where artifacts go (it
    proxies them, so remote nodes need no shared folder); ``artifact_root`` is ignored.
    """
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.tags.get(KIND_TAG) != KIND:
            _retry(client.set_experiment_tag, exp.experiment_id, KIND_TAG, KIND)
        return exp.experiment_id
    remote = tracking_uri.startswith(("http://", "https://"))
    location = Path(artifact_root).resolve().as_uri() if artifact_root and not remote else None
    return client.create_experiment(name, artifact_location=location, tags={KIND_TAG: KIND})


#: MLflow 3's UI opens an experiment of this kind on its runs table (untagged ones may open on
#: the GenAI traces pages)
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"
#: the experiment tag prefix under which MLflow's UI keeps a shared view (``?viewStateShareKey=``)
VIEW_TAG = "mlflow.sharedViewState."
#: the params shown as columns of a suite's runs table
VIEW_PARAMS = ("method", "dataset", "seed", "iterations")


def experiment_view(tracking_uri: str, suite_name: str) -> tuple[str, str] | None:
    """``(experiment_id, share_key)`` of a saved view of the suite's experiment for MLflow's UI:
    the runs grouped by method (each group's row the mean over its runs, the runs listed below
    it: none folded under the suite's parent run), with the metric values, the key params and
    the trial status as columns. None when the suite has no experiment.

    The view is an experiment tag ``mlflow.sharedViewState.<key>`` holding the UI's own state
    (``selectedColumns`` as ``metrics.`name``` keys, ``groupBy``), the mechanism behind
    the UI's "share view" button; the key is a hash of that state, so writing it again is a no-op.
    """
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(suite_name)
    if exp is None:
        return None
    if exp.tags.get(KIND_TAG) != KIND:
        _retry(client.set_experiment_tag, exp.experiment_id, KIND_TAG, KIND)
    runs = _retry(client.search_runs, [exp.experiment_id], filter_string=f"tags.`{TRIAL_TAG}` LIKE '%'",
                  max_results=1000)
    metrics: list[str] = []
    for run in runs:
        for key in run.data.metrics:
            if key not in metrics and not key.startswith(("loss", "protocol.")) and key != "elapsed_s":
                metrics.append(key)
    columns = ([f"params.`{p}`" for p in VIEW_PARAMS] + [f"tags.`{STATUS_TAG}`"]
               + [f"metrics.`{m}`" for m in sorted(metrics)] + ["attributes.`Duration`"])
    state = {"selectedColumns": columns,
             "orderByKey": "attributes.start_time", "orderByAsc": False, "runsHiddenMode": "SHOW_ALL",
             # one row per method (the mean over its runs), each method's runs below it
             "groupBy": {"aggregateFunction": "average",
                         "groupByKeys": [{"mode": "param", "groupByData": "method"}]}}
    text = json.dumps(state, sort_keys=True)
    key = "ganbench-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    if exp.tags.get(VIEW_TAG + key) != text:
        _retry(client.set_experiment_tag, exp.experiment_id, VIEW_TAG + key, text)
    return exp.experiment_id, key


def experiment_url(base: str, experiment_id: str, share_key: str | None = None) -> str:
    """The MLflow UI address of an experiment's runs table (in the UI's model-training mode, not
    its GenAI pages), with a saved view if given."""
    url = f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    return f"{url}&viewStateShareKey={share_key}" if share_key else url


def run_key(params: dict[str, Any]) -> str:
    """A short hash of a suite run's defining parameters (its grid)."""
    canonical = json.dumps({k: str(v) for k, v in params.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def start_parent_run(tracking_uri: str, experiment_id: str, suite_name: str, params: dict[str, Any]) -> str:
    """The suite run's parent run: the unfinished one of the same grid if a killed run left it."""
    client = MlflowClient(tracking_uri)
    key = run_key(params)
    previous = _retry(client.search_runs, [experiment_id],
                      filter_string=f"tags.`{SUITE_TAG}` = '{suite_name}' and tags.`{RUN_KEY_TAG}` = '{key}'",
                      order_by=["attributes.start_time DESC"], max_results=20)
    for run in previous:
        if run.info.status != "FINISHED" and PARENT_TAG not in run.data.tags:
            _retry(client.update_run, run.info.run_id, status="RUNNING")
            return run.info.run_id
    run = client.create_run(experiment_id, run_name=suite_name, tags={SUITE_TAG: suite_name, RUN_KEY_TAG: key})
    client.log_batch(run.info.run_id, params=[Param(k, _short(v)) for k, v in params.items()])
    return run.info.run_id


def close_done_trials(tracking_uri: str, experiment_id: str, done: dict[str, str]) -> int:
    """Terminate the runs of trials whose folder says done (``{trial_id: status}``) but whose run
    is still open: a driver killed between a trial's final ``status.json`` and its run's end left
    it ``RUNNING``, and a done trial is never run again to close it. Returns how many."""
    if not done:
        return 0
    client = MlflowClient(tracking_uri)
    runs = _retry(client.search_runs, [experiment_id], filter_string="attributes.status != 'FINISHED'",
                  max_results=5000)
    closed = 0
    for run in runs:
        trial_id = run.data.tags.get(TRIAL_TAG)
        if trial_id in done:
            _retry(client.set_tag, run.info.run_id, STATUS_TAG, done[trial_id])
            _retry(client.set_terminated, run.info.run_id, "FINISHED")
            closed += 1
    return closed


def end_run(tracking_uri: str, run_id: str, status: str = "FINISHED") -> None:
    client = MlflowClient(tracking_uri)
    if status == "KILLED":  # Ctrl-C or SIGTERM: the suite run says so beside MLflow's status
        client.set_tag(run_id, STATUS_TAG, "interrupted")
    client.set_terminated(run_id, status)


#: the report files a suite's parent run carries as artifacts (plots/ goes under ``plots``)
REPORT_ARTIFACTS = ("tables.md", "tables.tex", "results.csv", "time_to.csv")


def log_report_artifacts(tracking_uri: str, run_id: str, suite_dir: Path) -> list[str]:
    """Log the report of ``suite_dir`` (tables, results.csv, every plot) to the run ``run_id``;
    a rewritten report replaces the earlier files of the same names. Returns what was logged."""
    client = MlflowClient(tracking_uri)
    suite_dir = Path(suite_dir)
    logged = []
    for key in REPORT_ARTIFACTS:
        if (suite_dir / key).exists():
            _retry(client.log_artifact, run_id, str(suite_dir / key))
            logged.append(key)
    if (suite_dir / "plots").is_dir():
        _retry(client.log_artifacts, run_id, str(suite_dir / "plots"), "plots")
        logged += [f"plots/{p.name}" for p in sorted((suite_dir / "plots").iterdir()) if p.is_file()]
    return logged


def suite_parent_run(tracking_uri: str, suite_name: str) -> str | None:
    """The latest parent run of the suite ``suite_name`` in its experiment, or None."""
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(suite_name)
    if exp is None:
        return None
    runs = _retry(client.search_runs, [exp.experiment_id], filter_string=f"tags.`{SUITE_TAG}` = '{suite_name}'",
                  order_by=["attributes.start_time DESC"], max_results=50)
    parents = [r for r in runs if PARENT_TAG not in r.data.tags]
    return parents[0].info.run_id if parents else None


def log_report_to_store(suite_dir: Path, tracking_uri: str | None = None) -> str | None:
    """After ``ganbench report``: put the rebuilt report on the suite's latest parent run in the
    results folder's store (or ``tracking_uri``). Returns the run id, or None when there is no
    store or no run of this suite (a folder copied without its store) -- nothing to attach to."""
    suite_dir = Path(suite_dir)
    if tracking_uri is None:
        db = suite_dir.parent / "mlflow.db"
        if not db.exists() or inspect_store(db)[0] != "ok":
            return None
        tracking_uri = default_tracking_uri(suite_dir.parent)
    try:
        name = json.loads((suite_dir / "suite.json").read_text()).get("name") or suite_dir.name
    except (OSError, ValueError):
        name = suite_dir.name
    try:
        run_id = suite_parent_run(tracking_uri, name)
        if run_id is not None:
            log_report_artifacts(tracking_uri, run_id, suite_dir)
    except Exception as exc:  # the report on disk stands; the store is an extra (read-only, locked...)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        warnings.warn(f"{tracking_uri}: the report was not attached to the suite's MLflow run "
                      f"({type(exc).__name__}: {first})", stacklevel=2)
        return None
    return run_id


def _short(value: Any) -> str:
    return str(value)[:6000]


class TrialRun:
    """The child run of one trial.

    Re-attaches to the trial's unfinished (``RUNNING``, ``FAILED``, ``KILLED``) run, found by
    its trial tag whatever its parent (a killed driver's parent, or this one's), and
    re-parents it under ``parent_run_id``; a new run is created only when there is none.
    """

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str | None,
                 trial_id: str, run_name: str, params: dict[str, Any]):
        self.client = MlflowClient(tracking_uri)
        self.run_id = self._find_unfinished(experiment_id, trial_id)
        if self.run_id is not None:
            _retry(self.client.update_run, self.run_id, status="RUNNING")
            if parent_run_id:
                _retry(self.client.set_tag, self.run_id, PARENT_TAG, parent_run_id)
            return
        tags = {TRIAL_TAG: trial_id}
        if parent_run_id:
            tags[PARENT_TAG] = parent_run_id
        run = _retry(self.client.create_run, experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        _retry(self.client.log_batch, self.run_id,
               params=[Param(k, _short(v)) for k, v in sorted(params.items())])

    def _find_unfinished(self, experiment_id: str, trial_id: str) -> str | None:
        runs = _retry(self.client.search_runs, [experiment_id], filter_string=f"tags.`{TRIAL_TAG}` = '{trial_id}'",
                      order_by=["attributes.start_time DESC"], max_results=50)
        unfinished = [r for r in runs if r.info.status != "FINISHED"]
        return unfinished[0].info.run_id if unfinished else None

    def log_metrics(self, step: int, values: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items() if v is not None]
        _retry(self.client.log_batch, self.run_id, metrics=metrics)

    def set_tags(self, tags: dict[str, Any]) -> None:
        if tags:
            _retry(self.client.log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, params: dict[str, Any]) -> None:
        _retry(self.client.log_batch, self.run_id, params=[Param(k, _short(v)) for k, v in params.items()])

    def log_artifact(self, path: Path) -> None:
        _retry(self.client.log_artifact, self.run_id, str(path))

    def finish(self, status: str) -> None:
        _retry(self.client.set_tag, self.run_id, STATUS_TAG, status)
        _retry(self.client.set_terminated, self.run_id, run_status(status))


def run_status(status: str) -> str:
    """The MLflow run status of a trial status: done trials FINISHED, an interrupted one KILLED
    (MLflow's word for a run stopped from outside), anything else FAILED."""
    if status in ("finished", "diverged"):
        return "FINISHED"
    return "KILLED" if status == "interrupted" else "FAILED"


def close_interrupted(tracking_uri: str, experiment_id: str, trial_ids: set[str] | list[str]) -> int:
    """Mark the open runs of ``trial_ids`` (trials the driver found ``running`` after their process
    was gone) ``interrupted`` and ``KILLED``; a re-run re-attaches to them. Returns how many."""
    wanted = set(trial_ids)
    if not wanted:
        return 0
    client = MlflowClient(tracking_uri)
    runs = _retry(client.search_runs, [experiment_id], filter_string="attributes.status = 'RUNNING'",
                  max_results=5000)
    closed = 0
    for run in runs:
        if run.data.tags.get(TRIAL_TAG) in wanted:
            _retry(client.set_tag, run.info.run_id, STATUS_TAG, "interrupted")
            _retry(client.set_terminated, run.info.run_id, "KILLED")
            closed += 1
    return closed


def protocol_params(protocol: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The settings of a protocol as MLflow params ``protocol.<metric>.<key>`` (written once).

    Settings are strings, integers, booleans and None (extractor, n, split, seeds). Floats are
    values of one evaluation (``cis_std_over_splits``, a fit's quality) and go to
    :func:`protocol_metrics` instead; lists and mappings (class counts) stay in evals.jsonl.
    """
    return {f"protocol.{m}.{k}": v for m, p in protocol.items() if isinstance(p, dict) for k, v in p.items()
            if not isinstance(v, (list, tuple, dict, float))}


def protocol_metrics(protocol: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The per-evaluation numbers of a protocol (its float entries) as MLflow metrics
    ``protocol.<metric>.<key>``, logged at every evaluation's step like the values themselves
    (a param would keep the first evaluation's number for ever)."""
    import math

    return {f"protocol.{m}.{k}": v for m, p in protocol.items() if isinstance(p, dict) for k, v in p.items()
            if isinstance(v, float) and math.isfinite(v)}

