"""The names tables and figures print: methods, value keys and datasets.

A method row prints, in order of preference: the method class's ``display_name``
(:attr:`ganbench.methods.base.Method.display_name`), the name in :data:`METHOD_NAMES`, or the
row label itself (a suite's own ``label`` is printed as written). A value key prints the
``display`` entry of the metric that produces it (:attr:`ganbench.metrics.base.Metric.display`),
then :data:`KEY_NAMES`, then the raw key. Counted keys carry their maximum, taken from the
metric's protocol in the results (``num_modes``) or from the dataset's mode centres:
``modes_covered`` on ``ring8`` prints ``Modes (/8)``.

Names are cosmetic: a plugin that cannot be loaded leaves its raw name in the table rather
than stopping the report.
"""

from __future__ import annotations

from ganbench.errors import GanbenchError

#: method name -> printed name (the papers' own spelling)
METHOD_NAMES = {
    "gan": "GAN",
    "gan_minimax": "GAN (minimax)",
    "dcgan": "DCGAN",
    "wgan": "WGAN",
    "wgan_gp": "WGAN-GP",
    "sngan": "SN-GAN",
    "sagan": "SAGAN",
    "dragan": "DRAGAN",
    "lsgan": "LSGAN",
    "hinge": "Hinge GAN",
    "began": "BEGAN",
    "ebgan": "EBGAN",
    "fgan": "f-GAN",
    "distgan": "Dist-GAN",
    "gngan": "GN-GAN",
    "lapgan": "LAPGAN",
    "pacgan": "PacGAN",
    "pggan": "PGGAN",
    "san_gan": "SAN (GAN)",
    "san_gan_minimax": "SAN (minimax GAN)",
    "san_hinge": "SAN (hinge)",
    "swgan": "SWGAN",
    "cgml": "CGML",
}

#: value key -> printed name; ``{n}`` is replaced by the count the key is out of
KEY_NAMES = {
    "fid": "FID",
    "fcd": "FCD",
    "kid": "KID",
    "is": "IS",
    "cis": "cIS",
    "modes_covered": "Modes (/{n})",
    "modes_hq": "HQ samples",
    "modes_kl": "KL (modes)",
    "classes_covered": "Classes (/{n})",
    "classes_kl": "KL (classes)",
    "stacked_modes_covered": "Modes (/{n})",
    "stacked_kl": "KL (modes)",
    "precision": "Precision",
    "recall": "Recall",
    "density": "Density",
    "coverage": "Coverage",
    "precision_mnist": "Precision (MNIST clf.)",
    "recall_mnist": "Recall (MNIST clf.)",
    "density_mnist": "Density (MNIST clf.)",
    "coverage_mnist": "Coverage (MNIST clf.)",
    "precision_vgg16": "Precision (VGG-16)",
    "recall_vgg16": "Recall (VGG-16)",
    "density_vgg16": "Density (VGG-16)",
    "coverage_vgg16": "Coverage (VGG-16)",
    "p_precision": "P-precision",
    "p_recall": "P-recall",
    "p_precision_inception": "P-precision (Inception)",
    "p_recall_inception": "P-recall (Inception)",
    "ct": "C_T",
    "authenticity": "Authenticity",
    "ct_inception": "C_T (Inception)",
    "authenticity_inception": "Authenticity (Inception)",
    "vendi": "Vendi",
    "vendi_inception": "Vendi (Inception)",
    "fid_inf": "FID∞",
    "cgml_coverage": "Coverage (CGML)",
    "cgml_mode_err": "Mode error",
    "cgml_best_err": "Best error",
    "cgml_hit_rate": "Hit rate",
    "cgml_share_gap": "Share gap",
}

#: counts a key is out of when neither the protocol nor the dataset says
FIXED_COUNTS = {"stacked_modes_covered": 1000}

#: dataset name -> printed name
DATASET_NAMES = {
    "ring8": "Ring-8",
    "grid25": "Grid-25",
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "stacked_mnist": "Stacked MNIST",
    "mnist_bar": "MNIST-bar",
    "cifar10": "CIFAR-10",
    "stl10": "STL-10",
    "stl10_32": "STL-10 (32²)",
    "celeba64": "CelebA 64²",
    "toy3d": "Toy-3D",
}


def _registered(registry_name: str, name: str):
    """The registered class of ``name``, or None (unknown, or a plugin that does not load)."""
    from ganbench import registry

    reg = getattr(registry, registry_name)
    try:
        return reg.get(name) if name in reg else None
    except (GanbenchError, ImportError):
        return None


def method_display(row: str) -> str:
    """The printed name of a table row (a method name or a suite's own label)."""
    cls = _registered("METHODS", row)
    shown = getattr(cls, "display_name", "") if cls is not None else ""
    return shown or METHOD_NAMES.get(row, row)


def _metric_display(key: str) -> str:
    from ganbench import registry

    try:
        metrics = registry.METRICS.items()
    except (GanbenchError, ImportError):
        return ""
    for _, cls in metrics:
        if key in getattr(cls, "outputs", {}):
            return (getattr(cls, "display", None) or {}).get(key, "")
    return ""


def key_display(key: str, count: int | None = None) -> str:
    """The printed name of a value key; ``count`` fills ``{n}`` (``Modes (/8)``)."""
    shown = _metric_display(key) or KEY_NAMES.get(key, key)
    if "{n}" in shown:
        count = count if count is not None else FIXED_COUNTS.get(key)
        shown = shown.replace("{n}", str(count)) if count is not None else shown.replace(" (/{n})", "")
    return shown


def dataset_display(dataset: str) -> str:
    """The printed name of a dataset (its registry name when it has none)."""
    return DATASET_NAMES.get(dataset, dataset)
