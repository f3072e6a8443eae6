"""The small image classifiers behind FCD, classifier IS and class counts, for any labelled
small image dataset (MNIST, Fashion-MNIST, and e.g. 3×32×32 or 1×28×28 domains of MNIST).

Why our own: ImageNet-Inception features are a poor fit for 28×28 digits (the TTUR and tsc2017
maintainers' advice, GitHub issues bioinf-jku/TTUR#24 and tsc2017/Frechet-Inception-Distance#2),
and no pretrained MNIST classifier can be downloaded here. Scores that use
a classifier are comparable only for one fixed classifier, so each classifier is named by the
SHA1 of its weights (:func:`_state_sha1`) in every protocol, together with its dataset, input
shape, test accuracy and source (``shipped`` or ``trained``).

Shipped classifiers: the MNIST and Fashion-MNIST classifiers are trained once with the recipe
below and shipped in the package (``ganbench/assets/classifiers/<dataset>.pt``); by default
:func:`load_classifier` loads the shipped file, checks the SHA1 of its weights against
:data:`SHIPPED` and its recorded test accuracy against :data:`MIN_ACCURACY`, and never trains.
Every user's FCD/cIS are therefore computed with the same network. ``GANBENCH_TRAIN_CLASSIFIER=1``
(or ``load_classifier(name, train=True)``) trains anew with the same recipe into the cache,
``cache_dir()/weights/<dataset>_classifier.pt``; such a classifier has its own SHA1 (it equals
the shipped one only on identical hardware and software), which the protocol records with
``classifier_source: trained``. A dataset without a shipped classifier (for example
``mnist_colored``) is trained and cached on first use.

Network (:class:`SmallClassifier`, input C×H×W in [-1, 1] with H, W ≤ 64): conv3×3 C→16 → BN →
ReLU → maxpool2 → conv3×3 32 → BN → ReLU → maxpool2 → FC 128 → ReLU (the *feature*, 128-d) →
dropout 0.25 → FC ``num_classes`` (the *logits*). For 1×28×28 it is exactly the earlier
``Classifier28`` (same parameter names, arch ``classifier28-v2``), so cached MNIST and
Fashion-MNIST weights keep their hashes.

Recipe (deterministic on one machine): seed 0 for init and shuffling, ``torch.set_num_threads(1)``
on the CPU while training, Adam (one-cycle schedule, peak lr 3e-3), batch 128, 3 epochs on the
train split. The shipped MNIST classifier reaches 99.25 % on its test split, the Fashion-MNIST
one 90.86 %. The result
must reach the dataset's minimum test accuracy (:data:`MIN_ACCURACY`; for another dataset
``DatasetInfo.extras["classifier_min_accuracy"]``, else :data:`DEFAULT_MIN_ACCURACY`) or
:class:`ClassifierTooWeak` is raised.

Rebuild the shipped files: ``python -m ganbench.metrics.mnist_classifier ship mnist fashion_mnist``
(then copy the printed SHA1s into :data:`SHIPPED`).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.metrics.features import Extractor
from ganbench.paths import atomic_write_bytes, cache_dir

log = logging.getLogger(__name__)

#: the architecture name of the 1×28×28 net (kept from the MNIST-only version)
ARCH = "classifier28-v2"
#: minimum test accuracy per dataset; training (or a shipped file) that falls short raises.
MIN_ACCURACY = {"mnist": 0.99, "fashion_mnist": 0.90}
#: the floor of a dataset absent from MIN_ACCURACY and without extras["classifier_min_accuracy"]
DEFAULT_MIN_ACCURACY = 0.90
#: largest input side the small net accepts
MAX_SIDE = 64
EPOCHS = 3
BATCH_SIZE = 128
LR = 3e-3
TRAIN_SEED = 0
FEATURE_DIM = 128
#: environment variable: "1" trains anew (into the cache) instead of loading the shipped file
TRAIN_ENV = "GANBENCH_TRAIN_CLASSIFIER"
#: the shipped classifiers: dataset -> SHA1 of the weights (see :func:`_state_sha1`). Built by
#: ``python -m ganbench.metrics.mnist_classifier ship mnist fashion_mnist`` (torch 2.14.1, CPU,
#: one thread): MNIST test accuracy 99.25 % (136 s), Fashion-MNIST 90.86 % (762 s on a busy
#: machine); each file 834 kB.
SHIPPED: dict[str, str] = {
    "mnist": "60c738774e0593e02668bd948d18b040d54295c3",
    "fashion_mnist": "da0a05fe58515f7e377d1acdb051ee924a132462",
}


class ClassifierTooWeak(GanbenchError):
    """The classifier missed its dataset's minimum test accuracy."""


def arch_name(shape: tuple[int, ...]) -> str:
    """``classifier28-v2`` for 1×28×28 (unchanged), ``classifier-3x32x32-v2`` for others."""
    shape = tuple(int(s) for s in shape)
    return ARCH if shape == (1, 28, 28) else "classifier-{}x{}x{}-v2".format(*shape)


class SmallClassifier(nn.Module):
    """2-conv CNN for C×H×W inputs in [-1, 1]; returns ``(features, logits)``."""

    def __init__(self, num_classes: int = 10, in_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        c, h, w = (int(s) for s in in_shape)
        self.in_shape = (c, h, w)
        self.conv1 = nn.Conv2d(c, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * (h // 4) * (w // 4), FEATURE_DIM)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        feat = F.relu(self.fc1(h.flatten(1)))
        return feat, self.fc2(self.drop(feat))


#: the 1×28×28 net under its earlier name
Classifier28 = SmallClassifier


def classifier_path(dataset: str = "mnist") -> Path:
    """Where a classifier trained on this machine is cached."""
    return cache_dir() / "weights" / f"{dataset}_classifier.pt"


def shipped_path(dataset: str) -> Path | None:
    """The classifier shipped in the package for ``dataset``, or None."""
    if dataset not in SHIPPED:
        return None
    path = Path(str(resources.files("ganbench") / "assets" / "classifiers" / f"{dataset}.pt"))
    return path if path.is_file() else None


def _dataset_spec(dataset: str) -> tuple[tuple[int, int, int], int, float]:
    """(input shape, number of classes, minimum accuracy) of a labelled small image dataset."""
    from ganbench.data.base import get_dataset

    info = get_dataset(dataset).info
    shape = tuple(int(s) for s in info.shape)
    if info.kind != "image" or len(shape) != 3 or not info.num_classes:
        raise GanbenchError(f"the dataset classifier needs a labelled image dataset, not {dataset!r} "
                            f"(kind {info.kind!r}, {info.num_classes} classes)")
    if max(shape[1:]) > MAX_SIDE or min(shape[1:]) < 4:
        raise GanbenchError(f"the dataset classifier is for small images (sides 4..{MAX_SIDE}); "
                            f"{dataset!r} has {shape[1]}×{shape[2]}")
    minimum = MIN_ACCURACY.get(dataset, info.extras.get("classifier_min_accuracy", DEFAULT_MIN_ACCURACY))
    return shape, int(info.num_classes), float(minimum)


def min_accuracy(dataset: str) -> float:
    return _dataset_spec(dataset)[2]


@torch.no_grad()
def accuracy(model: SmallClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        _, logits = model(x[i : i + batch_size])
        correct += (logits.argmax(1) == y[i : i + batch_size]).sum().item()
    return correct / len(x)


@contextlib.contextmanager
def _one_thread(device: torch.device):
    """One CPU thread while training, so that the result does not depend on the core count."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(dataset: str = "mnist", device: str | torch.device = "cpu",
                     epochs: int = EPOCHS, seed: int = TRAIN_SEED) -> tuple[SmallClassifier, dict]:
    """Train :class:`SmallClassifier` on ``dataset``'s train split (the recipe above); return it
    and its record. Raises :class:`ClassifierTooWeak` below the dataset's minimum accuracy."""
    from ganbench.data.base import load_dataset

    shape, num_classes, minimum = _dataset_spec(dataset)
    device = torch.device(device)
    x, y = load_dataset(dataset, "train", device)
    xt, yt = load_dataset(dataset, "test", device)
    if y is None or yt is None:
        raise GanbenchError(f"the dataset classifier needs labels; {dataset!r} has none")

    with _one_thread(device):
        torch.manual_seed(seed)
        model = SmallClassifier(num_classes, shape).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        steps_per_epoch = math.ceil(len(x) / BATCH_SIZE)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=epochs * steps_per_epoch)
        shuffle = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(x), generator=shuffle).to(device)
            for i in range(0, len(x), BATCH_SIZE):
                idx = order[i : i + BATCH_SIZE]
                _, logits = model(x[idx])
                loss = F.cross_entropy(logits, y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        seconds = time.perf_counter() - start
        acc = accuracy(model, xt, yt)
    record = {
        "arch": arch_name(shape),
        "dataset": dataset,
        "input_shape": list(shape),
        "num_classes": num_classes,
        "test_accuracy": float(acc),
        "train_seconds": float(seconds),
        "epochs": int(epochs),
        "seed": int(seed),
        "device": str(device),
        "torch": str(torch.__version__),  # a TorchVersion object would not load with weights_only=True
    }
    msg = (f"ganbench: trained the {dataset} classifier in {seconds:.0f} s "
           f"on {device}: test accuracy {acc:.4%}")
    log.info(msg)
    print(msg, file=sys.stderr)
    if acc < minimum:
        raise ClassifierTooWeak(
            f"the {dataset} classifier reached only {acc:.4%} test accuracy (< {minimum:.0%}); "
            "delete its cache file and retry, or report this as a bug"
        )
    return model.cpu().eval(), record


def _state_sha1(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha1()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def classifier_bytes(model: SmallClassifier, record: dict) -> bytes:
    """The file format: a ``torch.save`` of ``{"state_dict", "record"}`` (weights_only-loadable)."""
    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "record": record}, buf)
    return buf.getvalue()


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock so that parallel trials train the classifier only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class LoadedClassifier:
    """A classifier with its record; ``sha1`` names its weights in protocols, ``source`` says
    whether it is the shipped file or one trained on this machine."""

    def __init__(self, model: SmallClassifier, record: dict, sha1: str, source: str = "trained"):
        self.model = model.eval()
        self.record = record
        self.sha1 = sha1
        self.source = source

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self.model.in_shape

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` N×C×H×W in [-1, 1] -> (features N×128, logits N×K), float32 on CPU."""
        device = images.device
        model = self.model.to(device)
        feats, logits = [], []
        for i in range(0, len(images), batch_size):
            f, lg = model(images[i : i + batch_size].float())
            feats.append(f.cpu())
            logits.append(lg.cpu())
        return torch.cat(feats), torch.cat(logits)


_loaded: dict[tuple[str, str], LoadedClassifier] = {}


def _train_requested() -> bool:
    return os.environ.get(TRAIN_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _read(path: Path, dataset: str, source: str) -> LoadedClassifier:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        record = dict(blob["record"])
        state = blob["state_dict"]
    except Exception as exc:  # a truncated or foreign file
        raise GanbenchError(f"{path}: not a ganbench classifier file ({type(exc).__name__}); "
                            "delete it to retrain") from None
    shape = tuple(record.get("input_shape", (1, 28, 28)))
    if record.get("arch") != arch_name(shape) or record.get("dataset", dataset) != dataset:
        raise GanbenchError(f"{path} holds a classifier of another architecture or dataset "
                            f"({record.get('arch')!r}, {record.get('dataset')!r}); delete it to retrain")
    model = SmallClassifier(state["fc2.weight"].shape[0], shape)
    model.load_state_dict(state)
    return LoadedClassifier(model, record, _state_sha1(state), source)


def load_classifier(dataset: str = "mnist", train_device: str | torch.device = "cpu",
                    train: bool | None = None) -> LoadedClassifier:
    """The classifier of ``dataset``: the shipped one (SHA1 and accuracy checked) unless
    ``train`` (default: ``$GANBENCH_TRAIN_CLASSIFIER``) asks for one trained on this machine or
    none is shipped; a trained one is cached and trained only on first use."""
    train = _train_requested() if train is None else bool(train)
    shipped = None if train else shipped_path(dataset)
    path = shipped or classifier_path(dataset)
    key = (dataset, str(path))
    if key in _loaded:
        return _loaded[key]
    minimum = min_accuracy(dataset)
    if shipped is not None:
        loaded = _read(shipped, dataset, "shipped")
        if loaded.sha1 != SHIPPED[dataset]:
            raise GanbenchError(f"{shipped}: weights SHA1 {loaded.sha1} differs from the shipped "
                                f"{SHIPPED[dataset]} (a damaged install; reinstall ganbench or set {TRAIN_ENV}=1)")
    else:
        if not path.exists():
            with _file_lock(path):
                if not path.exists():  # another process may have trained it meanwhile
                    model, record = train_classifier(dataset, train_device)
                    atomic_write_bytes(path, classifier_bytes(model, record))
        loaded = _read(path, dataset, "trained")
    if loaded.record.get("test_accuracy", 0.0) < minimum:
        raise ClassifierTooWeak(f"{path}: the {dataset} classifier's test accuracy "
                                f"{loaded.record.get('test_accuracy', 0.0):.4%} is below {minimum:.0%}")
    _loaded[key] = loaded
    return loaded


class ClassifierExtractor(Extractor):
    """Penultimate features (128-d) and logits of a dataset's classifier."""

    def __init__(self, dataset: str = "mnist"):
        self.dataset = dataset

    @property
    def name(self) -> str:  # dataset and architecture: the cache key of reference features
        return f"{self.dataset}-{arch_name(_dataset_spec(self.dataset)[0])}"

    @property
    def classifier(self) -> LoadedClassifier:
        return load_classifier(self.dataset)

    @property
    def weights_sha1(self) -> str:
        return self.classifier.sha1

    def protocol(self) -> dict:
        clf = self.classifier
        return {
            "extractor": self.name,
            "weights_sha1": clf.sha1,
            "classifier_source": clf.source,
            "classifier_test_accuracy": clf.record["test_accuracy"],
            "layer": f"fc1 ReLU ({FEATURE_DIM}-d) / logits",
        }

    def extract(self, images: torch.Tensor, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
        clf = self.classifier
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(clf.in_shape):
            want = "×".join(str(s) for s in clf.in_shape)
            raise ValueError(f"the {self.dataset} classifier needs N×{want} images, got {tuple(images.shape)}")
        feats, logits = clf(images.to(device))
        return {"features": feats.numpy(), "logits": logits.numpy()}


def ship(datasets: list[str], out_dir: Path) -> dict:
    """Train each dataset's classifier with the recipe on the CPU and write ``<out_dir>/<name>.pt``;
    return ``{name: {"sha1", "test_accuracy", "bytes", "train_seconds"}}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for dataset in datasets:
        model, record = train_classifier(dataset, "cpu")
        data = classifier_bytes(model, record)
        atomic_write_bytes(out_dir / f"{dataset}.pt", data)
        result[dataset] = {"sha1": _state_sha1(model.state_dict()), "test_accuracy": record["test_accuracy"],
                           "bytes": len(data), "train_seconds": record["train_seconds"]}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the shipped dataset classifiers (the recipe above).")
    parser.add_argument("command", choices=["ship"])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets" / "classifiers")
    args = parser.parse_args(argv)
    print(json.dumps(ship(args.datasets, args.out), indent=2))


if __name__ == "__main__":
    main()
