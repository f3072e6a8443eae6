"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, eq. 6).

    d² = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2 Tr((Σ₁Σ₂)^{1/2})

The trace of the matrix square root is taken through a symmetric eigendecomposition (issue 16
item 3, issue 14 item 6): with R = Σ₂^{1/2} (from ``eigh`` of Σ₂, negative round-off
eigenvalues set to 0), Σ₁Σ₂ is similar to the symmetric PSD matrix R Σ₁ R (same non-zero
eigenvalues: AB and BA share them, for A = Σ₁R and B = R), so

    Tr((Σ₁Σ₂)^{1/2}) = Σᵢ √λᵢ(R Σ₁ R),   λᵢ clipped at 0.

Everything is float64, in torch, on the evaluation device (a GPU when there is one). Two
``eigh`` instead of SciPy's Schur-based ``sqrtm`` of a non-symmetric 2048×2048 product, and
the reference side's R is computed once per protocol and cached
(:func:`ganbench.metrics.reference.reference_statistics`), so an evaluation pays one
``eigvalsh``. The result is always finite and real, also where n < d makes both covariances
singular, where ``sqrtm`` returns complex values or NaNs (its answer there depends on the
``eps·I`` fallback; ours needs none). On well-conditioned inputs it equals the SciPy route of
TTUR and clean-fid, kept here as :func:`frechet_distance_sqrtm` (``eps·I`` (1e-6) added to both
covariances where the root is not finite, a small imaginary part dropped), to 1e-6 relative;
``tests/test_metrics_algebra.py`` checks both against clean-fid's ``frechet_distance`` and
torch-fidelity's algebra and ``tests/test_device_eval.py`` the singular cases.

When n < d the distance is biased upward (and at n ≤ d the covariance has rank < d):
:func:`small_n_warning` is the one-line warning the metrics put in their protocol.

Used for FID (Inception pool3 features), FCD and intra-FCD (MNIST-classifier features).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N−1) covariance of an N×d feature array, in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an N×d feature array with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def torch_feature_stats(features, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`feature_stats` in float64 torch on ``device`` (one matmul on a GPU)."""
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    f = f.to(device=device, dtype=torch.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an N×d feature array with N >= 2, got shape {tuple(f.shape)}")
    mu = f.mean(dim=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def psd_sqrt(sigma: torch.Tensor) -> torch.Tensor:
    """The symmetric PSD square root of a covariance (eigh; negative round-off set to 0)."""
    sym = (sigma + sigma.T) / 2
    evals, evecs = torch.linalg.eigh(sym)
    return (evecs * evals.clamp(min=0).sqrt()) @ evecs.T


def trace_sqrt_product(sigma1: torch.Tensor, root2: torch.Tensor) -> torch.Tensor:
    """Tr((Σ₁Σ₂)^{1/2}) given R = Σ₂^{1/2}: Σ √λ(R Σ₁ R), eigenvalues clipped at 0."""
    m = root2 @ sigma1 @ root2
    evals = torch.linalg.eigvalsh((m + m.T) / 2)
    return evals.clamp(min=0).sqrt().sum()


def _as64(x, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(device, torch.float64)


def frechet_distance_from_root(mu1, sigma1, mu2, sigma2, root2) -> float:
    """The Fréchet distance with Σ₂'s square root already known (float64 tensors, one device)."""
    diff = mu1 - mu2
    value = diff @ diff + torch.trace(sigma1) + torch.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, root2)
    return float(value)


def frechet_distance_to_reference(features, mu2: torch.Tensor, sigma2: torch.Tensor, root2: torch.Tensor) -> float:
    """The Fréchet distance of generated ``features`` (N×d) to a reference known by its mean,
    covariance and Σ₂^{1/2} (float64 tensors on one device; the features move there).

    With C the centred features, Σ₁ = CᵀC/(N−1), so R Σ₁ R = BᵀB/(N−1) for B = C R, whose
    non-zero eigenvalues are those of the N×N matrix B Bᵀ/(N−1): when N < d that smaller
    eigenproblem is solved instead (N·d² + N³ work instead of 2d³ + d³; the same value).
    """
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    f = f.to(device=mu2.device, dtype=torch.float64)
    n, d = f.shape
    if n < 2:
        raise ValueError(f"need an N×d feature array with N >= 2, got shape {tuple(f.shape)}")
    mu1 = f.mean(dim=0)
    centred = f - mu1
    if n < d:
        b = centred @ root2
        gram = b @ b.T / (n - 1)
        evals = torch.linalg.eigvalsh((gram + gram.T) / 2)
        trace1 = (centred * centred).sum() / (n - 1)
    else:
        sigma1 = centred.T @ centred / (n - 1)
        m = root2 @ sigma1 @ root2
        evals = torch.linalg.eigvalsh((m + m.T) / 2)
        trace1 = torch.trace(sigma1)
    diff = mu1 - mu2
    return float(diff @ diff + trace1 + torch.trace(sigma2) - 2.0 * evals.clamp(min=0).sqrt().sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, device: torch.device | str | None = None) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (eigendecomposition route).

    ``eps`` is accepted for the SciPy route's signature and unused: this route needs no offset.
    Inputs are NumPy arrays or tensors; the algebra runs in float64 on ``device`` (default: the
    device of ``sigma1`` if it is a tensor, else the CPU).
    """
    del eps
    if device is None:
        device = sigma1.device if isinstance(sigma1, torch.Tensor) else "cpu"
    mu1, mu2 = _as64(mu1, device).reshape(-1), _as64(mu2, device).reshape(-1)
    sigma1, sigma2 = _as64(sigma1, device), _as64(sigma2, device)
    sigma1 = sigma1.reshape(1, 1) if sigma1.ndim < 2 else sigma1
    sigma2 = sigma2.reshape(1, 1) if sigma2.ndim < 2 else sigma2
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"shape mismatch: mu {tuple(mu1.shape)} vs {tuple(mu2.shape)}, "
                         f"sigma {tuple(sigma1.shape)} vs {tuple(sigma2.shape)}")
    return frechet_distance_from_root(mu1, sigma1, mu2, sigma2, psd_sqrt(sigma2))


def _sqrtm(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # "Matrix is singular and may not have a square root."
        warnings.simplefilter("ignore", RuntimeWarning)
        return scipy.linalg.sqrtm(a)


def frechet_distance_sqrtm(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """The SciPy ``sqrtm`` route of TTUR and clean-fid (the reference the eigen route is checked
    against; ganbench's own copy because clean-fid 0.1.35 passes ``disp=False`` to ``sqrtm``, an
    argument SciPy has deprecated). Raises where the root has a large imaginary part."""
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


def frechet_distance_from_features(feats1, feats2, eps: float = 1e-6,
                                   device: torch.device | str = "cpu") -> float:
    """Fréchet distance between the Gaussians fitted to two N×d feature arrays."""
    del eps
    mu2, s2 = torch_feature_stats(feats2, device)
    return frechet_distance_to_reference(feats1, mu2, s2, psd_sqrt(s2))


def small_n_warning(n_gen: int, n_ref: int, dim: int) -> str | None:
    """The protocol's one-line warning when a side has fewer samples than feature dimensions."""
    n = min(n_gen, n_ref)
    if n >= dim:
        return None
    return (f"n={n} < d={dim} features: the covariance is singular (rank <= {n - 1}) and the "
            f"Fréchet distance is biased upward; compare only at equal n (or use kid / fid_inf)")
