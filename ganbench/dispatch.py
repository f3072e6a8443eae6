"""Dispatch: run the expanded grid through Ray Tune (or in-process with ``--local``).

The local default starts a Ray instance owned by ganbench (``RAY_AUTH_MODE=disabled``);
``--address`` joins an existing cluster. Resources are checked against the cluster before
anything starts: a GPU request where the cluster has none is an error, not a trial pending
forever. ``gpus_per_trial: auto`` is sized from a probe of the trials' GPU memory in the driver
(:mod:`ganbench.gpu_share`, :func:`sized_for_trials`). Each Tune trial runs
:func:`ganbench.trial.train_trial` on one ``TrialSpec`` (with ``cpus_per_trial`` rounded down, at
least 1, as its torch threads) and is named by the spec's content hash.

A local Ray instance is ours: its session folder (``/tmp/ray/session_<time>_<pid>``) is
recorded under the ganbench cache while it runs, and a driver that was killed leaves that
record behind. The next :func:`ensure_ray` ends the processes that name a dead driver's session
folder in their command line or hold files open in it (raylet, GCS, dashboard and runtime-env
agents, workers), found by that folder, never by a process name, so another user's or another
live run's Ray is never touched.

An environmental fault in a trial (a full or read-only disk: :class:`EnvironmentFault`) ends the
whole run: in-process it propagates; under Tune the trial reports it before raising and a
stopper stops every trial, so none is dispatched after it, and :func:`run_ray` raises it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ganbench import interrupt
from ganbench.errors import EnvironmentFault, GanbenchError, environment_fault
from ganbench.spec import TrialSpec
from ganbench.suite import Resources
from ganbench.trial import TrialContext, env_for_workers, train_trial, trial_threads

ProgressFn = Callable[[str, dict[str, Any]], None]
log = logging.getLogger(__name__)


def run_local(specs: list[TrialSpec], ctx: TrialContext, progress: ProgressFn | None = None) -> list[dict]:
    """Run trials one after another in this process; after a stop was asked for
    (:mod:`ganbench.interrupt`) the running trial ends at its next iteration and none starts."""
    results = []
    for spec in specs:
        if interrupt.requested():
            break
        if progress:
            progress("start", {"trial_id": spec.trial_id, "label": spec.display})
        try:
            record = train_trial(spec, ctx)
        except Exception as exc:  # a full or read-only disk ends the run: no next trial
            fault = environment_fault(exc, ctx.suite_dir)
            if fault is None:
                raise
            raise fault from None
        results.append(record)
        if progress:
            progress("done", {"label": spec.display, **record})
        if record.get("status") == "interrupted":
            break
    return results


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray (start a local instance when no address is given).

    Returns True when this call started it (so the caller shuts it down).
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune tables over ours
    # Ctrl-C is ganbench's (ganbench.interrupt): Tune's own handler would print a Tuner.restore hint
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  configure_logging=False, runtime_env={"env_vars": env_for_workers()})
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            end_leftover_ray()
            # "local": always a new instance owned by ganbench; without it ray.init joins the
            # cluster named in /tmp/ray/ray_current_cluster (left by any `ray start`, even a dead one)
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
    except ConnectionError as exc:
        raise GanbenchError(f"--address {address}: cannot connect to a Ray cluster ({exc})") from None
    if not address:
        _record_session()
    interrupt.install()  # ray.init replaced the SIGTERM handler of a run in progress
    return True


def _sessions_dir() -> Path:
    from ganbench.paths import cache_dir

    return cache_dir() / "ray-sessions"


def _record_session() -> None:
    """Note this driver's local Ray session folder, so that a killed driver's Ray can be found."""
    try:
        import ray

        session = ray._private.worker._global_node.get_session_dir_path()
        folder = _sessions_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{os.getpid()}.json").write_text(json.dumps({"pid": os.getpid(), "session_dir": session,
                                                                "since": time.time()}))
    except Exception:  # best effort: a Ray without this internal API only loses the cleanup
        pass


def shutdown_ray() -> None:
    """Shut down the Ray this driver started and forget its session record."""
    import ray

    ray.shutdown()
    (_sessions_dir() / f"{os.getpid()}.json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def processes_of_session(session_dir: str) -> list[int]:
    """Pids of processes that name ``session_dir`` (or a path inside it) in their command line or
    hold a file open inside it (Linux ``/proc``). Ray's agents rename themselves
    (``ray::DashboardAgent``), so the open log files are what still ties them to the session."""
    name = session_dir.rstrip("/")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if any(arg.endswith(name) or name + "/" in arg for arg in argv):
            pids.append(int(entry.name))
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target == name or target.startswith(name + "/"):
                pids.append(int(entry.name))
                break
    return pids


def end_leftover_ray(grace_s: float = 5.0) -> list[int]:
    """End the local Ray processes of drivers that died without shutting Ray down; return the pids."""
    folder = _sessions_dir()
    if not folder.is_dir():
        return []
    ended: list[int] = []
    for record_path in folder.glob("*.json"):
        try:
            record = json.loads(record_path.read_text())
            pid, session = int(record["pid"]), str(record["session_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            record_path.unlink(missing_ok=True)
            continue
        if _alive(pid) or "session_" not in Path(session).name:
            continue
        found = processes_of_session(session)
        pids = list(found)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace_s
            while pids and time.monotonic() < deadline:
                pids = [p for p in pids if _alive(p) and not _zombie(p)]
                time.sleep(0.1)
            if not pids:
                break
        ended.extend(found)
        record_path.unlink(missing_ok=True)
    return ended


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def resolve_resources(res: Resources, cluster: dict[str, float], source: str) -> dict[str, float]:
    """Per-trial Ray resources, checked against what the cluster has."""
    cpus_total = cluster.get("CPU", 0.0)
    gpus_total = cluster.get("GPU", 0.0)
    if res.cpus_per_trial > cpus_total:
        raise GanbenchError(f"{source}: resources.cpus_per_trial: {res.cpus_per_trial:g} CPUs per trial "
                            f"requested but the Ray cluster has {cpus_total:g}")
    if res.gpus_per_trial == "auto":  # sized by a probe in run_ray (sized_for_trials); 0.5 until then
        gpus = 0.5 if gpus_total >= 1 else 0.0
    else:
        gpus = float(res.gpus_per_trial)
        if gpus > 0 and gpus_total == 0:
            raise GanbenchError(f"{source}: resources.gpus_per_trial: {gpus:g} GPU per trial requested "
                                "but the Ray cluster has no GPU (use 0 or auto)")
        if gpus > gpus_total:
            raise GanbenchError(f"{source}: resources.gpus_per_trial: {gpus:g} GPUs per trial requested "
                                f"but the Ray cluster has {gpus_total:g}")
    return {"cpu": res.cpus_per_trial, "gpu": gpus}


def sized_for_trials(per_trial: dict[str, float], res: Resources, specs: list[TrialSpec],
                     progress: ProgressFn | None = None) -> dict[str, float]:
    """``per_trial`` with ``gpus_per_trial: auto`` sized from a probe of the trials' GPU memory
    (:func:`ganbench.gpu_share.auto_share`); the choice and why in one line (``progress`` or
    stderr). Unchanged when the share was given or the cluster has no GPU."""
    if res.gpus_per_trial != "auto" or per_trial["gpu"] <= 0:
        return per_trial
    from ganbench.gpu_share import auto_share

    share = auto_share(specs)
    log.info("%s", share.note)
    if progress:
        progress("prepare", {"what": share.note})
    else:
        print(f"ganbench: {share.note}", file=sys.stderr, flush=True)
    return {**per_trial, "gpu": share.fraction}


#: the key a trial reports when the environment failed it (read by :class:`_FaultStopper`)
FAULT_KEY = "ganbench_environment_fault"


def _tune_trainable(config: dict[str, Any]) -> None:
    spec = TrialSpec.from_dict(config["spec"])
    ctx = TrialContext(**config["ctx"])
    try:
        train_trial(spec, ctx)
    except Exception as exc:
        fault = environment_fault(exc, ctx.suite_dir)
        if fault is not None:
            from ray import tune

            tune.report({FAULT_KEY: str(fault)})
        raise


@contextlib.contextmanager
def _quiet_disk_faults(stopper):
    """Drop log records that carry a disk fault's traceback (Tune logs its failed experiment-state
    saves with ``exc_info``), and Tune's own complaints once a trial reported a disk fault (its
    result files could not be written either) or a stop was asked for (no results of the queued
    trials): the run ends with the fault's, or the interruption's, one line instead."""

    class DiskFaultFilter(logging.Filter):
        def filter(self, record):
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None and environment_fault(exc) is not None:
                return False
            # after Ctrl-C Tune also complains about the queued trials it never started
            return not ((stopper.fault or interrupt.requested()) and record.name.startswith("ray.tune"))

    flt = DiskFaultFilter()
    # where Tune's records end: a handler of "ray" or the root logger, or Python's last resort
    handlers = [h for name in ("ray", "ray.tune", "") for h in logging.getLogger(name or None).handlers]
    handlers += [logging.lastResort] if logging.lastResort is not None else []
    for handler in handlers:
        handler.addFilter(flt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(flt)


def _FaultStopper():
    """A Tune stopper that stops every trial once one reported an environmental fault."""
    from ray.tune.stopper import Stopper

    class FaultStopper(Stopper):
        def __init__(self):
            self.fault: str | None = None

        def __call__(self, trial_id, result):
            if result.get(FAULT_KEY):
                self.fault = self.fault or str(result[FAULT_KEY])
            return self.fault is not None or interrupt.requested()

        def stop_all(self):  # also once Ctrl-C or SIGTERM asked the run to stop: no queued trial starts
            return self.fault is not None or interrupt.requested()

    return FaultStopper()


def cluster_resources_for(resources: Resources, source: str) -> dict[str, float]:
    """Per-trial resources checked against the connected Ray cluster (call ensure_ray first)."""
    import ray

    return resolve_resources(resources, ray.cluster_resources(), source)


def run_ray(specs: list[TrialSpec], ctx: TrialContext, resources: Resources, source: str,
            address: str | None = None, progress: ProgressFn | None = None) -> list[dict]:
    """Run the trials as one Ray Tune grid; returns one record per trial.

    Connects to Ray (or starts a local instance) unless already connected, and shuts down
    only what it started.
    """
    import ray
    from ray import tune

    started = ensure_ray(address)
    try:
        per_trial = sized_for_trials(cluster_resources_for(resources, source), resources, specs, progress)
        threads = trial_threads(per_trial["cpu"])
        ctx = TrialContext(**{**ctx.__dict__, "threads": threads, "report_to_tune": True})
        labels = {s.trial_id: s.display for s in specs}
        storage = Path(ctx.suite_dir).resolve() / "ray"
        trainable = tune.with_resources(_tune_trainable, per_trial)
        stopper = _FaultStopper()
        tuner = tune.Tuner(
            trainable,
            param_space={
                "spec": tune.grid_search([{**s.to_dict()} for s in specs]),
                "ctx": ctx.__dict__,
            },
            tune_config=tune.TuneConfig(
                num_samples=1,
                reuse_actors=True,  # a worker keeps torch, MLflow and the data loaded across trials
                trial_name_creator=lambda t: TrialSpec.from_dict(t.config["spec"]).trial_id,
                trial_dirname_creator=lambda t: TrialSpec.from_dict(t.config["spec"]).trial_id,
            ),
            run_config=tune.RunConfig(
                name=ctx.suite_name,
                storage_path=str(storage),
                verbose=0,
                stop=stopper,
                failure_config=tune.FailureConfig(max_failures=resources.max_failures),
                callbacks=[_ProgressCallback(progress, labels)] if progress else [],
            ),
        )
        interrupt.install()
        with _quiet_disk_faults(stopper):
            grid = tuner.fit()
        if stopper.fault:
            raise EnvironmentFault(stopper.fault)
        if interrupt.requested():  # the trials said so in their folders; the driver reads those
            return []
        records = []
        for result in grid:
            if not result.config:  # a trial Tune never started
                continue
            spec = TrialSpec.from_dict(result.config["spec"])
            records.append({"trial_id": spec.trial_id, "label": spec.display,
                            "error": str(result.error) if result.error else None,
                            "metrics": dict(result.metrics or {})})
        return records
    finally:
        if started:
            shutdown_ray()


def _ProgressCallback(progress: ProgressFn, labels: dict[str, str]):
    """A Tune callback forwarding trial events to ``progress`` (rich, in the CLI).

    Tune pickles its run config (callbacks included) for ``Tuner.restore``; the progress
    function holds a live terminal display, so it is dropped from the pickle.
    """
    from ray.tune import Callback

    def _label(trial) -> str:
        return labels.get(TrialSpec.from_dict(trial.config["spec"]).trial_id, str(trial))

    class ProgressCallback(Callback):
        def __init__(self, progress_fn: ProgressFn):
            self.progress: ProgressFn | None = progress_fn
            self.started: set[str] = set()

        def __getstate__(self):
            return {**self.__dict__, "progress": None}

        def _emit(self, event: str, info: dict[str, Any]) -> None:
            if self.progress is not None:
                self.progress(event, info)

        def on_trial_start(self, iteration, trials, trial, **info):
            self.started.add(trial.trial_id)
            self._emit("start", {"trial_id": TrialSpec.from_dict(trial.config["spec"]).trial_id,
                                 "label": _label(trial)})

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self._emit("result", {"label": _label(trial), **{k: v for k, v in result.items()
                                                            if isinstance(v, (int, float))}})

        def on_trial_complete(self, iteration, trials, trial, **info):
            if interrupt.requested():  # Tune stops every trial, queued ones too: say so for started ones
                if trial.trial_id in self.started:
                    self._emit("done", {"label": _label(trial), "status": "interrupted"})
                return
            self._emit("done", {"label": _label(trial), "status": "finished"})

        def on_trial_error(self, iteration, trials, trial, **info):
            self._emit("done", {"label": _label(trial), "status": "failed"})

    return ProgressCallback(progress)
