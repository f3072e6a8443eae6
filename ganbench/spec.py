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
        if self.dataset_params:
            data["dataset_params"] = dict(self.dataset_params)
        else:
            data.pop("dataset_params", None)  # likewise for plain datasets
        data["params"] = dict(self.params)
        data["metrics"] = list(self.metrics)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialSpec":
        data = dict(data)
        data["params"] = tuple(sorted(dict(data["params"]).items()))
        data["metrics"] = tuple(data["metrics"])
        data["dataset_params"] = tuple(sorted(dict(data.get("dataset_params") or {}).items()))
        return cls(**data)

    @property
    def trial_id(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
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
            elif key == "metrics":
                out["metrics"] = ",".join(value)
            elif key == "dataset_params":
                out.update({f"dataset.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        out["trial_id"] = self.trial_id
        return out
