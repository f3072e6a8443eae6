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

Images must have the dataset's channels (``mnist``: 1; ``stacked_mnist``: 3; an RGB image
whose three channels are equal counts as grey) and its aspect ratio; any other size is resized
to the dataset's (``mnist``: 28×28) with the resize of the evaluation's protocol (``clean``:
PIL bicubic on float pixels, clean-fid's; ``legacy_tensorflow``: TF 1.x bilinear,
torch-fidelity's), said in the output and in every metric's protocol (``input_resize``).

Pixel values: uint8 (and other integer arrays) are 0..255; float arrays are read in the range
given (``value_range``: ``(0, 1)``, ``(-1, 1)`` or ``(0, 255)``, the CLI's ``--range``) or
detected: a value below 0 means [−1, 1], a value above 1 means [0, 255]; floats all within
[0, 1] fit both [0, 1] and [−1, 1] and are refused (one line asking for ``--range``) rather
than guessed. Every range maps to [−1, 1] as the datasets do (``u8/127.5 − 1``); the range used
and whether it was given or detected go to the protocol (``input_range``).

When ``metrics`` is None, a file is evaluated on its dataset's default set
(:func:`default_metrics`) and a checkpoint on its suite's metrics. A metric evaluated on fewer
samples than it needs to be trusted gets a warning in the result and in its protocol
(:func:`small_n_warnings`). ``source_sha`` is the SHA-256 of the source's bytes (the checkpoint
or .npz file; for a PNG folder, of the files read, names and bytes, in order).

The reference is ``n`` images (n = number of evaluated samples,
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
#: the value ranges a float array may be given in (``--range``)
RANGES = {"0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0), "0,255": (0.0, 255.0)}
#: slack on a range's ends for float rounding (in units of the range's width)
RANGE_SLACK = 1e-3

#: the metrics a file is evaluated on when none are named, per dataset (the first applicable
#: entry of :func:`default_metrics`' fallbacks otherwise). MNIST-like: the classifier metrics,
#: precision beside recall and coverage (prdc_mnist: precision alone reads 1.0 for a collapsed
#: generator); colour images: the Inception metrics; points: the mode metrics.
DEFAULT_METRICS = {
    "mnist": ["fcd", "cis", "classes", "prdc_mnist"],
    "fashion_mnist": ["fcd", "cis", "classes", "prdc_mnist"],
    "stacked_mnist": ["stacked_modes"],
    "ring8": ["modes"],
    "grid25": ["modes"],
}
FALLBACK_METRICS = {"image": ["fid", "kid"], "points": ["modes"]}


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
    #: metric -> a one-line warning (n too small for it, or the metric's own)
    warnings: dict[str, str] = dataclasses.field(default_factory=dict)
    #: SHA-256 of the source's bytes (module docstring); "" for in-memory samples
    source_sha: str = ""
    #: how the input was read: ``input_range``, ``input_resize`` (also in every protocol)
    input: dict[str, str] = dataclasses.field(default_factory=dict)
    #: True when ``metrics`` were the dataset's defaults (nothing named)
    default_metrics: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``ganbench eval --json``)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# --------------------------------------------------------------------------- arrays -> tensors

def parse_range(text: str | tuple | None) -> tuple[float, float] | None:
    """``"0,1"`` / ``"-1,1"`` / ``"0,255"`` (or such a pair) -> the pair; None stays None."""
    if text is None:
        return None
    if isinstance(text, (tuple, list)):
        key = ",".join(f"{float(v):g}" for v in text)
    else:
        key = ",".join(f"{float(v):g}" if v.strip().lstrip("+-").replace(".", "", 1).isdigit() else v.strip()
                       for v in str(text).replace(" ", "").split(","))
    if key not in RANGES:
        raise GanbenchError(f"--range {text if isinstance(text, str) else key}: expected one of "
                            f"{', '.join(RANGES)}")
    return RANGES[key]


def _range_name(pair: tuple[float, float]) -> str:
    return f"[{pair[0]:g}, {pair[1]:g}]"


def to_unit_range(arr: np.ndarray, value_range: tuple[float, float] | None, origin: str
                  ) -> tuple[np.ndarray, str]:
    """Pixel values -> float32 in [-1, 1], and how they were read (for the protocol)."""
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise GanbenchError(f"{origin}: images must be uint8 (0..255) or float, not {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        if value_range is not None and value_range != (0.0, 255.0):
            raise GanbenchError(f"{origin}: {arr.dtype} pixels are 0..255; --range {_range_name(value_range)} "
                                "is for float arrays")
        if arr.dtype != np.uint8:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi > 255:
                raise GanbenchError(f"{origin}: {arr.dtype} pixels must be 0..255, got {lo}..{hi}")
        x = arr.astype(np.float32) / 127.5 - 1.0
        return x, f"{arr.dtype} 0..255"
    x = np.asarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise GanbenchError(f"{origin}: float images contain NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if value_range is None:
        if lo < 0.0:
            pair, how = (-1.0, 1.0), "detected: values below 0"
        elif hi > 1.0 + RANGE_SLACK:
            pair, how = (0.0, 255.0), "detected: values above 1"
        else:
            raise GanbenchError(f"{origin}: float images in [{lo:.4g}, {hi:.4g}] fit both [0, 1] and [-1, 1]; "
                                "say which with --range 0,1 or --range -1,1 (value_range= in Python)")
    else:
        pair, how = value_range, "given"
    a, b = pair
    slack = RANGE_SLACK * (b - a)
    if lo < a - slack or hi > b + slack:
        advice = "" if how == "given" else "; give the range with --range"
        raise GanbenchError(f"{origin}: float images in [{lo:.4g}, {hi:.4g}] are outside "
                            f"{_range_name(pair)} ({how}{advice})")
    x = np.clip((x - a) * (2.0 / (b - a)) - 1.0, -1.0, 1.0)
    return x.astype(np.float32, copy=False), f"float {_range_name(pair)} ({how})"


def resize_images(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """[-1, 1] N×C×H×W -> N×C×h×w with the protocol's resize: ``clean`` = PIL bicubic on float
    pixels (clean-fid's resizer), ``legacy_tensorflow`` = TF 1.x bilinear (torch-fidelity's);
    pixels clipped to [0, 255] as clean-fid does."""
    h, w = size
    pixels = (x.float() + 1.0) * 127.5
    if mode == "clean":  # clean-fid's resize_single_channel: PIL "F" image, BICUBIC, clip(0, 255)
        from PIL import Image

        arr = pixels.cpu().numpy()
        out = np.empty((arr.shape[0], arr.shape[1], h, w), dtype=np.float32)
        for i in range(arr.shape[0]):
            for c in range(arr.shape[1]):
                img = Image.fromarray(arr[i, c].astype(np.float32), mode="F")
                out[i, c] = np.asarray(img.resize((w, h), resample=Image.BICUBIC))
        res = torch.from_numpy(out)
    elif mode == "legacy_tensorflow":
        from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

        res = interpolate_bilinear_2d_like_tensorflow1x(pixels, size=(h, w), align_corners=False, method="slow")
    else:
        raise GanbenchError(f"unknown resize mode {mode!r} (clean or legacy_tensorflow)")
    return (res.clamp(0.0, 255.0) / 127.5 - 1.0).to(x.device)


RESIZE_WORDS = {"clean": "PIL bicubic on float pixels (clean-fid 'clean')",
                "legacy_tensorflow": "TF 1.x bilinear (torch-fidelity, 'legacy_tensorflow')"}


def images_to_tensor(arr: np.ndarray, info: DatasetInfo, origin: str,
                     value_range: tuple[float, float] | None = None, resize: str = "clean",
                     notes: dict[str, str] | None = None) -> torch.Tensor:
    """An image (or point) array in one of the accepted layouts -> float32 N×C×H×W in [-1, 1].

    ``value_range`` (float arrays) is given or detected (:func:`to_unit_range`); images of
    another size than the dataset's are resized (:func:`resize_images`, mode ``resize``).
    ``notes``, if given, receives ``input_range`` and ``input_resize``.
    """
    notes = notes if notes is not None else {}
    if info.kind == "points":
        if arr.ndim != 2 or arr.shape[1:] != tuple(info.shape) or not np.issubdtype(arr.dtype, np.floating):
            raise GanbenchError(f"{origin}: dataset {info.name} needs an N×{info.shape[0]} float array, "
                                f"got {arr.dtype} {tuple(arr.shape)}")
        if value_range is not None:
            raise GanbenchError(f"{origin}: --range is for images, not points")
        x = np.asarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise GanbenchError(f"{origin}: points contain NaN or inf")
        notes["input_range"] = "points as given"
        return torch.from_numpy(np.ascontiguousarray(x))
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
    if arr.shape[1] != want_c:
        raise GanbenchError(f"{origin}: images have {arr.shape[1]} channel(s), dataset {info.name} needs "
                            f"{'×'.join(map(str, info.shape))}")
    h, w = arr.shape[2:]
    if (h, w) != (want_h, want_w) and abs(h * want_w - w * want_h) > 0.01 * h * want_w:
        raise GanbenchError(f"{origin}: images are {arr.shape[1]}×{h}×{w}, dataset {info.name} needs "
                            f"{'×'.join(map(str, info.shape))}: another aspect ratio (crop them first; "
                            "ganbench resizes but never stretches)")
    x, how = to_unit_range(arr, value_range, origin)
    notes["input_range"] = how
    tensor = torch.from_numpy(np.ascontiguousarray(x))
    if (h, w) != (want_h, want_w):
        tensor = resize_images(tensor, (want_h, want_w), resize)
        notes["input_resize"] = f"{h}×{w} -> {want_h}×{want_w}, {RESIZE_WORDS.get(resize, resize)}"
    return tensor


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
    if spec.get("imports"):  # a plugin method: its suite's imports travel in the spec
        from ganbench.registry import PluginImportError, import_plugins

        try:
            import_plugins(spec["imports"], spec.get("import_dir") or None)
        except PluginImportError as err:
            raise GanbenchError(f"{spec_path}: imports[{err.index}]: {err}") from None
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
        cls = METRICS.get(name)  # unknown -> one-line GanbenchError with "did you mean"
        if not cls.applies_to(info):
            raise GanbenchError(f"metric {name!r} does not apply to dataset {info.name!r} "
                                f"(applicable: {', '.join(metrics_for(info)) or 'none'})")


def default_metrics(info: DatasetInfo) -> list[str]:
    """The metrics a file of ``info``'s dataset is evaluated on when none are named:
    :data:`DEFAULT_METRICS`, else a dataset class's own ``default_metrics`` (plugins), else the
    applicable ones of :data:`FALLBACK_METRICS` for its kind, else every applicable metric."""
    from ganbench.registry import DATASETS

    family = info.name if info.name in DATASETS else info.name.split("-")[0]  # image_folder-<hash>
    chosen = DEFAULT_METRICS.get(family)
    if chosen is None and family in DATASETS:
        chosen = getattr(DATASETS.get(family), "default_metrics", None)
    if chosen is None:
        chosen = FALLBACK_METRICS.get(info.kind, [])
    chosen = [m for m in chosen if m in METRICS and METRICS.get(m).applies_to(info)]
    return chosen or metrics_for(info)


#: Fréchet distances: their feature dimension (n below it: a singular covariance)
FRECHET_DIMS = {"fid": 2048, "fcd": 128}
#: n below which a metric's number is too noisy or biased to compare, with the reason
MIN_N = {
    "fid": (2000, "the Fréchet distance is biased upward at small n (Chong & Forsyth 2020); "
                  "compare only at equal n, 10k-50k is usual"),
    "fcd": (2000, "the Fréchet distance is biased upward at small n (Chong & Forsyth 2020); "
                  "compare only at equal n, 10k is usual"),
    "kid": (1000, "KID's subsets (1000 samples each, torch-fidelity's size) are cut to n"),
    "is": (5000, "each of the 10 splits then holds under 500 samples for 1008 classes"),
    "cis": (1000, "each of the 10 splits then holds under 100 samples for 10 classes"),
    "prdc": (1000, "k-nearest-neighbour radii (k=5) from few samples are noisy"),
    "prdc_mnist": (1000, "k-nearest-neighbour radii (k=5) from few samples are noisy"),
    "prdc_vgg16": (1000, "k-nearest-neighbour radii (k=5) from few samples are noisy"),
    "stacked_modes": (10000, "under 10 samples per mode of the 1000"),
}


def small_n_warnings(metrics: list[str], n: int, protocols: dict[str, dict[str, Any]] | None = None
                     ) -> dict[str, str]:
    """metric -> a one-line warning when ``n`` samples are too few for it (:data:`MIN_N`, and
    n below a Fréchet distance's feature dimension; ``intra_fcd`` judged on its smallest class);
    a metric's own protocol warning is kept (and stands for the feature-dimension rule)."""
    out: dict[str, str] = {}
    for name in metrics:
        protocol = (protocols or {}).get(name, {})
        own = [str(v) for k, v in protocol.items() if "warning" in k and v]
        words = []
        dim, count = FRECHET_DIMS.get(name), n
        if name == "intra_fcd":
            dim, count = FRECHET_DIMS["fcd"], int(protocol.get("n_gen_per_class_min", n))
        if dim is not None and count < dim:
            if not own:
                words.append(f"n={count}{' (smallest class)' if name == 'intra_fcd' else ''} is below the "
                             f"{dim}-d features: the covariance is singular and the Fréchet distance unreliable")
        elif name in MIN_N and n < MIN_N[name][0]:
            need, why = MIN_N[name]
            words.append(f"n={n} < {need}: {why}")
        words += [w for w in own if w not in words]
        if words:
            out[name] = "; ".join(words)
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_sha256(folder: Path, names: list[str]) -> str:
    """SHA-256 over the files read from a folder: each name, then its bytes, in order."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(folder / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def evaluate_tensor(fake: torch.Tensor, info: DatasetInfo, metrics: list[str], split: str,
                    device: torch.device, resize: str = "clean", input_notes: dict[str, str] | None = None,
                    seconds: dict[str, float] | None = None
                    ) -> tuple[dict[str, float], dict[str, dict[str, Any]], dict[str, str]]:
    """Prepare (assets first: an unavailable metric fails before computing) and compute
    ``metrics`` on ``fake``; returns values, protocols (with the input notes and any warning)
    and the warnings."""
    seconds = seconds if seconds is not None else {}
    n = int(len(fake))
    ctx = EvalContext(dataset=info, reference=split, num_samples=n, device=device, seed=REFERENCE_SEED,
                      resize=resize)
    start = time.perf_counter()
    for name in metrics:
        METRICS.get(name)().prepare(ctx)
    seconds["prepare"] = time.perf_counter() - start
    start = time.perf_counter()
    values, protocols = compute_metrics(fake, info, metrics, n, split, device, REFERENCE_SEED, resize=resize)
    seconds["compute"] = time.perf_counter() - start
    warnings = small_n_warnings(metrics, n, protocols)
    for name, protocol in protocols.items():
        protocol.update(input_notes or {})
        if name in warnings:
            protocol["warning"] = warnings[name]
    return values, protocols, warnings


def run_eval(source: str | Path, metrics: list[str] | None = None, dataset: str | None = None,
             split: str = "test", num_samples: int | None = None, seed: int | None = None,
             device: str | torch.device | None = None, value_range: str | tuple | None = None,
             resize: str | None = None) -> EvalResult:
    """Evaluate a checkpoint, a PNG folder or an .npz on ``metrics`` against ``split``.

    ``metrics`` None: a checkpoint's suite metrics, a file's dataset defaults
    (:func:`default_metrics`). ``value_range`` (files): ``"0,1"``, ``"-1,1"`` or ``"0,255"``,
    else detected. ``resize``: the protocol's resize mode (a checkpoint's own by default, else
    ``clean``), also used to bring images of another size to the dataset's.
    """
    path = Path(source)
    dev = _device(device)
    pair = parse_range(value_range)
    if num_samples is not None and num_samples < 1:
        raise GanbenchError(f"--num-samples must be >= 1, got {num_samples}")
    if resize is not None and resize not in RESIZE_WORDS:
        raise GanbenchError(f"--resize {resize}: expected clean or legacy_tensorflow")
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
    chose_defaults = False
    if kind == "checkpoint":
        if pair is not None:
            raise GanbenchError(f"{path}: --range is for image files; a checkpoint's samples are in [-1, 1]")
        method, spec = load_trial_generator(path, dev)
        if dataset is not None and dataset != spec["dataset"]:
            raise GanbenchError(f"{path}: the trial was trained on {spec['dataset']!r}, not {dataset!r}")
        dataset = spec["dataset"]
        if metrics is None:
            metrics = [*(spec.get("metrics") or []), *(spec.get("final_metrics") or [])]
        extra.update({"trial_id": spec.get("trial_id"), "method": spec["method"],
                      "iteration": int(method.iteration), "suite": spec.get("suite")})
    elif dataset is None:
        raise GanbenchError(f"{path}: --dataset is required for a {'PNG folder' if kind == 'png' else '.npz file'}")
    info = get_dataset(dataset, (spec or {}).get("dataset_params")).info
    if split not in info.splits:
        raise GanbenchError(f"dataset {dataset!r} has no split {split!r} (splits: {', '.join(info.splits)})")
    if metrics is None:
        metrics, chose_defaults = default_metrics(info), True
    metrics = list(metrics)
    _check_metrics(metrics, info)
    resize = resize or (spec or {}).get("resize", "clean")  # a trial's eval.resize; files: the default

    start = time.perf_counter()
    notes: dict[str, str] = {}
    if kind == "checkpoint":
        n = int(num_samples or spec.get("num_samples") or 10000)
        noise_seed = int(seed if seed is not None else spec.get("seed", 0))
        fake = draw_samples(method.sample, n, dev, noise_seed)
        extra["noise_seed"] = noise_seed
        sha = file_sha256(path)
    else:
        if kind == "png":
            arr, names = read_png_folder(path, num_samples)
            extra["first_file"], extra["last_file"] = names[0], names[-1]
            sha = folder_sha256(path, names)
        else:
            arr, key = read_npz(path)
            extra["npz_key"] = key
            sha = file_sha256(path)
            if num_samples is not None:
                if num_samples > len(arr):
                    raise GanbenchError(f"{path}: --num-samples {num_samples} but the array holds {len(arr)}")
                arr = arr[:num_samples]
        fake = images_to_tensor(arr, info, str(path), pair, resize, notes).to(dev)
    seconds["load"] = time.perf_counter() - start
    n = int(len(fake))
    notes["source_sha"] = sha
    values, protocols, warnings = evaluate_tensor(fake, info, metrics, split, dev, resize, notes, seconds)
    if "noise_seed" in extra:
        for protocol in protocols.values():
            protocol["noise_seed"] = extra["noise_seed"]
    input_notes = {k: v for k, v in notes.items() if k != "source_sha"}
    return EvalResult(str(path), kind, dataset, split, metrics, values, protocols, n, seconds, extra,
                      warnings=warnings, source_sha=sha, input=input_notes, default_metrics=chose_defaults)


# --------------------------------------------------------------------------- MLflow

def log_to_mlflow(result: EvalResult, tracking_uri: str, artifact_root: Path | None = None) -> str:
    """One run in experiment ``ganbench-eval``: values as metrics, source and protocol as params."""
    from mlflow.entities import Metric as MlflowMetric, Param
    from mlflow.tracking import MlflowClient

    from ganbench.tracking import TRIAL_TAG, ensure_experiment, protocol_metrics, protocol_params

    experiment_id = ensure_experiment(tracking_uri, EVAL_EXPERIMENT, artifact_root)
    client = MlflowClient(tracking_uri)
    tags = {"ganbench.eval_source": result.source, "ganbench.eval_kind": result.source_kind}
    if result.extra.get("trial_id"):
        tags[TRIAL_TAG] = str(result.extra["trial_id"])
    run_name = f"eval {Path(result.source).parent.name if result.source_kind == 'checkpoint' else Path(result.source).name}"
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    params = {"source": result.source, "source_kind": result.source_kind, "dataset": result.dataset,
              "split": result.split, "metrics": ",".join(result.metrics), "num_samples": result.n,
              "source_sha": result.source_sha,
              **{k: v for k, v in result.extra.items() if v is not None and not isinstance(v, (list, dict))},
              **protocol_params(result.protocols)}
    now = int(time.time() * 1000)
    step = int(result.extra.get("iteration", 0))
    client.log_batch(run.info.run_id,
                     metrics=[MlflowMetric(k, float(v), now, step)  # protocol floats (spreads) are metrics
                              for k, v in {**result.values, **protocol_metrics(result.protocols)}.items()],
                     params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id
