"""``ganbench eval``: metrics of a trained generator or of images on disk, outside a suite.

A *source* is one of

- a trial checkpoint, ``results/<suite>/trials/<id>/checkpoint.pt``, with its ``spec.json`` next
  to it: the method is rebuilt from the spec (``METHODS.get(spec["method"])``, its ``Params``,
  the dataset's info), the checkpoint's ``"method"`` state is loaded (``weights_only=True``), and
  ``n`` samples are drawn exactly as the trial's evaluations draw them
  (:func:`~ganbench.metrics.evaluate.draw_samples`, noise seeded by the trial's seed unless
  ``seed`` is given; ``n`` defaults to the trial's ``num_samples``);
- a folder of PNG files (8-bit grey, RGB or RGBA; alpha dropped), read in sorted name order;
- an ``.npz`` file holding one array of images (or an array named ``images``/``x``/``samples``):
  uint8 N×H×W, N×H×W×C or N×C×H×W (pixels 0..255), or float in [-1, 1] in the same layouts; for
  point datasets an N×d float array.

Images must have the dataset's shape (``mnist``: 1×28×28; ``stacked_mnist``: 3×28×28); an RGB
image whose three channels are equal counts as grey. uint8 pixels map to ``u8/127.5 − 1``,
the datasets' own conversion. The reference is ``n`` images (n = number of evaluated samples,
capped at the split) of ``split``, drawn with the suite evaluator's reference seed, so a
checkpoint evaluated with its trial's n, split and seed reproduces the trial's numbers.
Every problem (missing or unreadable source, empty folder, wrong image size, unknown or
inapplicable metric, unavailable asset) is a one-line :class:`GanbenchError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.data.base import DatasetInfo, get_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics.base import EvalContext
from ganbench.metrics.evaluate import REFERENCE_SEED, compute_metrics, draw_samples, metrics_for
from ganbench.registry import METHODS, METRICS

NPZ_KEYS = ("images", "x", "samples")
EVAL_EXPERIMENT = "ganbench-eval"


@dataclasses.dataclass
class EvalResult:
    source: str
    source_kind: str  # "checkpoint" | "png" | "npz"
    dataset: str
    split: str
    metrics: list[str]
    values: dict[str, float]
    protocols: dict[str, dict[str, Any]]
    n: int
    seconds: dict[str, float]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# --------------------------------------------------------------------------- arrays -> tensors

def images_to_tensor(arr: np.ndarray, info: DatasetInfo, origin: str) -> torch.Tensor:
    """An image (or point) array in one of the accepted layouts -> float32 N×C×H×W in [-1, 1]."""
    if info.kind == "points":
        if arr.ndim != 2 or arr.shape[1:] != tuple(info.shape) or not np.issubdtype(arr.dtype, np.floating):
            raise GanbenchError(f"{origin}: dataset {info.name} needs an N×{info.shape[0]} float array, "
                                f"got {arr.dtype} {tuple(arr.shape)}")
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if info.kind != "image":
        raise GanbenchError(f"{origin}: ganbench eval reads images or points, not {info.kind} data "
                            f"(dataset {info.name}); evaluate a checkpoint instead")
    want_c, want_h, want_w = info.shape
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4):
            arr = arr.transpose(0, 3, 1, 2)
        elif arr.shape[1] not in (1, 3, 4):
            raise GanbenchError(f"{origin}: cannot tell the channel axis of an array of shape "
                                f"{tuple(arr.shape)} (expected N×H×W×C or N×C×H×W with C in 1, 3, 4)")
    else:
        raise GanbenchError(f"{origin}: expected N×H×W, N×H×W×C or N×C×H×W images, got shape {tuple(arr.shape)}")
    if arr.shape[0] == 0:
        raise GanbenchError(f"{origin}: no images")
    if arr.shape[1] == 4:
        arr = arr[:, :3]  # alpha dropped
    if arr.shape[1] == 3 and want_c == 1:
        if not (np.array_equal(arr[:, 0], arr[:, 1]) and np.array_equal(arr[:, 0], arr[:, 2])):
            raise GanbenchError(f"{origin}: colour images, but dataset {info.name} is grey (1×{want_h}×{want_w})")
        arr = arr[:, :1]
    if tuple(arr.shape[1:]) != tuple(info.shape):
        got = "×".join(map(str, arr.shape[1:]))
        raise GanbenchError(f"{origin}: images are {got}, dataset {info.name} needs "
                            f"{'×'.join(map(str, info.shape))}")
    if arr.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(arr)).float().div(127.5).sub(1.0)
    if np.issubdtype(arr.dtype, np.floating):
        x = np.asarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise GanbenchError(f"{origin}: float images contain NaN or inf")
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
            raise GanbenchError(f"{origin}: float images must be in [-1, 1], got [{lo:.4g}, {hi:.4g}] "
                                f"(save uint8 pixels for 0..255)")
        return torch.from_numpy(np.ascontiguousarray(x)).clamp_(-1.0, 1.0)
    raise GanbenchError(f"{origin}: images must be uint8 (0..255) or float in [-1, 1], not {arr.dtype}")


def read_png_folder(folder: Path, limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """The PNGs of ``folder`` (sorted by name) as one uint8 array, N×H×W or N×H×W×C."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise GanbenchError(f"{folder}: no .png files in this folder")
    if limit is not None:
        if limit > len(files):
            raise GanbenchError(f"{folder}: --num-samples {limit} but the folder holds {len(files)} PNG files")
        files = files[:limit]
    arrays, first_shape = [], None
    for path in files:
        try:
            with Image.open(path) as img:
                if img.mode in ("L", "RGB", "RGBA"):
                    a = np.asarray(img)
                elif img.mode in ("P", "LA", "1"):
                    a = np.asarray(img.convert("RGBA" if img.mode == "LA" else "RGB"))
                else:
                    raise GanbenchError(f"{path}: PNG mode {img.mode!r} is not 8-bit grey/RGB/RGBA")
        except (OSError, UnidentifiedImageError) as exc:
            raise GanbenchError(f"{path}: unreadable PNG ({type(exc).__name__})") from None
        if first_shape is None:
            first_shape = a.shape
        elif a.shape != first_shape:
            raise GanbenchError(f"{path}: shape {a.shape} differs from the first image's {first_shape}")
        arrays.append(a)
    return np.stack(arrays), [p.name for p in files]


def read_npz(path: Path) -> tuple[np.ndarray, str]:
    try:
        with np.load(path, allow_pickle=False) as blob:
            keys = list(blob.files)
            if not keys:
                raise GanbenchError(f"{path}: the .npz holds no array")
            key = keys[0] if len(keys) == 1 else next((k for k in NPZ_KEYS if k in keys), None)
            if key is None:
                raise GanbenchError(f"{path}: the .npz holds several arrays ({', '.join(keys)}); "
                                    f"name the images one of {', '.join(NPZ_KEYS)}")
            return blob[key], key
    except GanbenchError:
        raise
    except Exception as exc:
        raise GanbenchError(f"{path}: unreadable .npz ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------- checkpoints

def load_trial_generator(path: Path, device: torch.device):
    """The method of a trial checkpoint, rebuilt from its spec.json and loaded; and the spec."""
    from ganbench.checkpoint import load_checkpoint

    spec_path = path.parent / "spec.json"
    try:
        spec = json.loads(spec_path.read_text())
    except FileNotFoundError:
        raise GanbenchError(f"{path}: no spec.json next to the checkpoint (expected a trial folder "
                            "results/<suite>/trials/<id>/)") from None
    except (OSError, ValueError) as exc:
        raise GanbenchError(f"{spec_path}: unreadable ({type(exc).__name__})") from None
    if not isinstance(spec, dict) or not {"method", "dataset", "params"} <= set(spec):
        raise GanbenchError(f"{spec_path}: not a ganbench trial spec (needs method, dataset, params)")
    method_cls = METHODS.get(spec["method"])
    info = get_dataset(spec["dataset"], spec.get("dataset_params")).info  # image_folder: its parameters
    try:
        params = method_cls.Params(**spec["params"])
    except Exception as exc:
        raise GanbenchError(f"{spec_path}: params do not fit method {spec['method']!r} "
                            f"({str(exc).splitlines()[0]})") from None
    state = load_checkpoint(path, map_location=device)
    method = method_cls(params, info, device)
    try:
        method.load_state_dict(state["method"])
    except Exception as exc:
        raise GanbenchError(f"{path}: checkpoint does not fit method {spec['method']!r} with the spec's "
                            f"params ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    return method, spec


# --------------------------------------------------------------------------- the evaluation

def _check_metrics(names: list[str], info: DatasetInfo) -> None:
    if not names:
        raise GanbenchError("no metrics given (--metrics fcd,cis,...)")
    for name in names:
        cls = METRICS.get(name)  # unknown -> one-line GanbenchError
        if not cls.applies_to(info):
            raise GanbenchError(f"metric {name!r} does not apply to dataset {info.name!r} "
                                f"(applicable: {', '.join(metrics_for(info)) or 'none'})")


def run_eval(source: str | Path, metrics: list[str] | None = None, dataset: str | None = None,
             split: str = "test", num_samples: int | None = None, seed: int | None = None,
             device: str | torch.device | None = None) -> EvalResult:
    """Evaluate a checkpoint, a PNG folder or an .npz on ``metrics`` against ``split``."""
    path = Path(source)
    dev = _device(device)
    if num_samples is not None and num_samples < 1:
        raise GanbenchError(f"--num-samples must be >= 1, got {num_samples}")
    if not path.exists():
        raise GanbenchError(f"{path}: no such file or folder")
    extra: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    if path.is_dir():
        kind = "png"
    elif path.suffix.lower() == ".npz":
        kind = "npz"
    else:
        kind = "checkpoint"

    spec: dict[str, Any] | None = None
    method = None
    if kind == "checkpoint":
        method, spec = load_trial_generator(path, dev)
        if dataset is not None and dataset != spec["dataset"]:
            raise GanbenchError(f"{path}: the trial was trained on {spec['dataset']!r}, not {dataset!r}")
        dataset = spec["dataset"]
        if metrics is None:
            metrics = list(spec.get("metrics") or [])
        extra.update({"trial_id": spec.get("trial_id"), "method": spec["method"],
                      "iteration": int(method.iteration), "suite": spec.get("suite")})
    elif dataset is None:
        raise GanbenchError(f"{path}: --dataset is required for a {'PNG folder' if kind == 'png' else '.npz file'}")
    info = get_dataset(dataset, (spec or {}).get("dataset_params")).info
    if split not in info.splits:
        raise GanbenchError(f"dataset {dataset!r} has no split {split!r} (splits: {', '.join(info.splits)})")
    metrics = list(metrics or [])
    _check_metrics(metrics, info)

    start = time.perf_counter()
    if kind == "checkpoint":
        n = int(num_samples or spec.get("num_samples") or 10000)
        noise_seed = int(seed if seed is not None else spec.get("seed", 0))
        fake = draw_samples(method.sample, n, dev, noise_seed)
        extra["noise_seed"] = noise_seed
    else:
        if kind == "png":
            arr, names = read_png_folder(path, num_samples)
            extra["first_file"], extra["last_file"] = names[0], names[-1]
        else:
            arr, key = read_npz(path)
            extra["npz_key"] = key
            if num_samples is not None:
                if num_samples > len(arr):
                    raise GanbenchError(f"{path}: --num-samples {num_samples} but the array holds {len(arr)}")
                arr = arr[:num_samples]
        fake = images_to_tensor(arr, info, str(path)).to(dev)
    seconds["load"] = time.perf_counter() - start
    n = int(len(fake))

    # assets (weights, reference features) first: an unavailable metric fails before computing
    resize = (spec or {}).get("resize", "clean")  # a trial's eval.resize; files: the default
    ctx = EvalContext(dataset=info, reference=split, num_samples=n, device=dev, seed=REFERENCE_SEED,
                      resize=resize)
    start = time.perf_counter()
    for name in metrics:
        METRICS.get(name)().prepare(ctx)
    seconds["prepare"] = time.perf_counter() - start
    start = time.perf_counter()
    values, protocols = compute_metrics(fake, info, metrics, n, split, dev, REFERENCE_SEED, resize=resize)
    seconds["compute"] = time.perf_counter() - start
    if "noise_seed" in extra:
        for protocol in protocols.values():
            protocol["noise_seed"] = extra["noise_seed"]
    return EvalResult(str(path), kind, dataset, split, metrics, values, protocols, n, seconds, extra)


# --------------------------------------------------------------------------- MLflow

def log_to_mlflow(result: EvalResult, tracking_uri: str, artifact_root: Path | None = None) -> str:
    """One run in experiment ``ganbench-eval``: values as metrics, source and protocol as params."""
    from mlflow.entities import Metric as MlflowMetric, Param
    from mlflow.tracking import MlflowClient

    from ganbench.tracking import TRIAL_TAG, ensure_experiment, protocol_params

    experiment_id = ensure_experiment(tracking_uri, EVAL_EXPERIMENT, artifact_root)
    client = MlflowClient(tracking_uri)
    tags = {"ganbench.eval_source": result.source, "ganbench.eval_kind": result.source_kind}
    if result.extra.get("trial_id"):
        tags[TRIAL_TAG] = str(result.extra["trial_id"])
    run_name = f"eval {Path(result.source).parent.name if result.source_kind == 'checkpoint' else Path(result.source).name}"
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    params = {"source": result.source, "source_kind": result.source_kind, "dataset": result.dataset,
              "split": result.split, "metrics": ",".join(result.metrics), "num_samples": result.n,
              "source_sha": hashlib.sha1(result.source.encode()).hexdigest()[:12],
              **{k: v for k, v in result.extra.items() if v is not None and not isinstance(v, (list, dict))},
              **protocol_params(result.protocols)}
    now = int(time.time() * 1000)
    step = int(result.extra.get("iteration", 0))
    client.log_batch(run.info.run_id,
                     metrics=[MlflowMetric(k, float(v), now, step) for k, v in result.values.items()],
                     params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id
