"""The frozen description of one trial, and the content hash that names it everywhere."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """One cell of the suite grid: a method on a dataset with a seed, fully resolved.

    ``params`` holds the method's hyperparameters *after* merging defaults and suite
    overrides, as a sorted tuple of ``(name, value)`` pairs so that the spec is hashable.
    The :attr:`trial_id` (a content hash) names the trial's results folder, its MLflow run
    and its Ray trial, so a re-run recognises finished work.
    """

    method: str
    dataset: str
    seed: int
    params: tuple[tuple[str, Any], ...]
    iterations: int
    batch_size: int
    eval_every: int
    metrics: tuple[str, ...]
    num_samples: int
    reference: str
    #: the name shown in tables (the method name, or the suite entry's ``label``)
    label: str = ""
    #: eval.resize of the Inception metrics; left out of to_dict() (and the id) when "clean"
    resize: str = "clean"
    #: eval.num_reference; None (= num_samples) is left out of to_dict() and the id
    num_reference: int | None = None
    #: parameters of a parametrised dataset (``image_folder``: path, size), sorted pairs; empty
    #: for plain datasets, and then left out of to_dict() so their trial ids do not change
    dataset_params: tuple[tuple[str, Any], ...] = ()
    #: train.log_every (None: the trainer's default) and train.compile; left out of to_dict()
    #: (and the id) at their defaults, so existing trial ids do not change
    log_every: int | None = None
    compile: str = "none"
    #: the suite's ``imports`` (plugin ``.py`` files as absolute paths, or module names) and the
    #: folder module names are looked up in first (the suite file's); they travel with the spec
    #: so that a Ray worker or ``ganbench eval`` imports the same plugins (:meth:`from_dict`).
    #: Left out of to_dict() when empty and always out of the trial id: moving a suite file
    #: does not change its trials' ids
    imports: tuple[str, ...] = ()
    import_dir: str = ""
    #: eval.final_metrics: computed at the last evaluation only; left out of to_dict() (and the
    #: id) when empty, so trials of suites without it keep their ids
    final_metrics: tuple[str, ...] = ()

    def metrics_at(self, step: int) -> list[str]:
        """The metrics an evaluation at ``step`` computes: ``metrics``, plus ``final_metrics`` at the
        trial's last iteration."""
        return [*self.metrics, *(self.final_metrics if step >= self.iterations else ())]

    @property
    def dataset_param_dict(self) -> dict[str, Any]:
        return dict(self.dataset_params)

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not data["label"] or data["label"] == self.method:
            del data["label"]  # keeps the hash of unlabelled trials independent of the field
        if data.get("resize") == "clean":
            del data["resize"]  # likewise: trial ids from before eval.resize are unchanged
        if data.get("num_reference") is None:
            data.pop("num_reference", None)
        if data.get("log_every") is None:
            data.pop("log_every", None)
        if data.get("compile") == "none":
            data.pop("compile", None)
        if self.dataset_params:
            data["dataset_params"] = dict(self.dataset_params)
        else:
            data.pop("dataset_params", None)  # likewise for plain datasets
        if self.imports:
            data["imports"] = list(self.imports)
        else:
            data.pop("imports", None)
        if not self.import_dir:
            data.pop("import_dir", None)
        if self.final_metrics:
            data["final_metrics"] = list(self.final_metrics)
        else:
            data.pop("final_metrics", None)
        data["params"] = dict(self.params)
        data["metrics"] = list(self.metrics)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialSpec":
        data = dict(data)
        data["params"] = tuple(sorted(dict(data["params"]).items()))
        data["metrics"] = tuple(data["metrics"])
        data["final_metrics"] = tuple(data.get("final_metrics") or ())
        data["dataset_params"] = tuple(sorted(dict(data.get("dataset_params") or {}).items()))
        data["imports"] = tuple(data.get("imports") or ())
        if data["imports"]:  # a worker (or eval) reading the spec of a plugin method imports it first
            from ganbench.registry import import_plugins

            import_plugins(data["imports"], data.get("import_dir") or None)
        return cls(**data)

    @property
    def trial_id(self) -> str:
        data = {k: v for k, v in self.to_dict().items() if k not in ("imports", "import_dir")}
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def display(self) -> str:
        return f"{self.label or self.method}/{self.dataset}/seed{self.seed}"

    def flat(self) -> dict[str, Any]:
        """Flattened view for MLflow params and results rows."""
        out: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if key == "params":
                out.update({f"param.{k}": v for k, v in value.items()})
            elif key in ("metrics", "final_metrics"):
                out[key] = ",".join(value)
            elif key == "imports":
                out["imports"] = ",".join(value)
            elif key == "dataset_params":
                out.update({f"dataset.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        out["trial_id"] = self.trial_id
        return out
