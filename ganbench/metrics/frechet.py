"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, eq. 6).

    d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2})

methods_spec.md §5.1: the matrix square root is SciPy's ``sqrtm``; where the product is
singular enough that the root is not finite, ``eps·I`` (eps = 1e-6) is added to both
covariances; a small imaginary part from round-off is dropped. This is the algebra of TTUR and
clean-fid; ganbench carries its own copy because clean-fid 0.1.35 passes ``disp=False`` to
``sqrtm``, an argument SciPy has deprecated and announces it will remove in 1.18. ``tests/test_metrics_algebra.py``
checks it against clean-fid's ``frechet_distance`` and torch-fidelity's algebra.

Used for FID (Inception pool3 features) and FCD (MNIST-classifier features).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N−1) covariance of an N×d feature array, in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an N×d feature array with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # "Matrix is singular and may not have a square root."
        warnings.simplefilter("ignore", RuntimeWarning)
        return scipy.linalg.sqrtm(a)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm has a large imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance_from_features(feats1, feats2, eps: float = 1e-6) -> float:
    """Fréchet distance between the Gaussians fitted to two N×d feature arrays."""
    return frechet_distance(*feature_stats(feats1), *feature_stats(feats2), eps=eps)
