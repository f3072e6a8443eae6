"""Neighbours embedding V_R, GN-GAN's "inverse t-SNE" regulariser (Tran, Bui, Cheung, AAAI 2019).

This follows the GN-GAN student report (a course report on the paper), ganbench's authority for
GN-GAN's formulas. For a mini-batch of n latent codes z_i and their generated samples G(z_i)
(flattened to vectors):

    p_{j|i} = (1 + ‖z_j − z_i‖² / 2σ_z²)⁻¹ / Σ_{k≠i} (1 + ‖z_k − z_i‖² / 2σ_z²)⁻¹,   p_{i|i} = 0
    p_ij    = (p_{i|j} + p_{j|i}) / 2n
    q_{j|i}, q_ij: the same on G(z_i) with σ_x
    V_R     = KL(P ‖ Q) = Σ_{i≠j} p_ij log(p_ij / q_ij)

Both sides use the Student-t (Cauchy) kernel as the report writes it; the "2σ²" inside the
kernel is kept as written, although plain t-SNE has no bandwidth on its Student-t side.

**σ rule (the report: "σ_z est la variance de toutes les distances dans un mini batch").**
ganbench takes σ² = Var{‖a_i − a_j‖ : i < j}, the population variance of the n(n−1)/2
Euclidean (non-squared) pairwise distances of the batch, computed separately for the latent
batch (σ_z²) and the generated batch (σ_x²). Reasons:
- the kernel's argument ‖a_j − a_i‖²/2σ² must be dimensionless; a variance of distances has
  the units of a squared distance, so it can stand for σ², not for σ. Reading "σ is the
  variance" literally (σ² = Var²) would make the kernel depend on the scale of the data;
- with σ² = Var(d) the affinities are invariant to a global scaling (and to translations and
  rotations) of either batch, so V_R = 0 whenever G maps the batch to a similar copy of it.
  That is the natural fixed point of "keep the local structure of the latent batch";
- the diagonal (zero self-distances) is left out: including it (as one third-party
  reimplementation does, with the variance over the full n×n matrix) biases σ towards the
  spread of n zeros.
σ_x is not detached: V_R is a function of the batch alone and its gradient has no component
along a global rescaling of G(z). A tiny constant (1e-12) is added to σ² so that a batch with
all distances equal (a collapsed batch) gives uniform affinities instead of 0/0.
"""

from __future__ import annotations

import torch

#: added to σ² (all distances equal -> variance 0) and used to floor q before the log
EPS = 1e-12


def pairwise_sq_distances(points: torch.Tensor) -> torch.Tensor:
    """n×n matrix of squared Euclidean distances between the rows of ``points`` (flattened).

    Computed from explicit differences, so that its gradient is finite (zero) on the diagonal
    and between identical points, where ``torch.cdist`` would give NaN.
    """
    flat = points.flatten(1)
    diff = flat.unsqueeze(1) - flat.unsqueeze(0)
    return diff.pow(2).sum(-1)


def distance_variance(sq_dist: torch.Tensor) -> torch.Tensor:
    """σ² of the report: population variance of the distances ‖a_i − a_j‖ over pairs i < j."""
    n = sq_dist.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=sq_dist.device)
    # clamp before the sqrt: zero distance (identical points) would give an infinite gradient
    dist = sq_dist[iu[0], iu[1]].clamp_min(EPS).sqrt()
    return dist.var(unbiased=False)


def conditional_affinities(points: torch.Tensor) -> torch.Tensor:
    """Row i holds p_{j|i}: Student-t kernel with 2σ² bandwidth, p_{i|i} = 0, rows sum to 1."""
    sq = pairwise_sq_distances(points)
    sigma_sq = distance_variance(sq) + EPS
    kernel = 1.0 / (1.0 + sq / (2.0 * sigma_sq))
    eye = torch.eye(sq.shape[0], dtype=torch.bool, device=sq.device)
    kernel = kernel.masked_fill(eye, 0.0)
    return kernel / kernel.sum(dim=1, keepdim=True)


def joint_affinities(points: torch.Tensor) -> torch.Tensor:
    """p_ij = (p_{i|j} + p_{j|i}) / 2n; zero diagonal; the entries sum to 1."""
    cond = conditional_affinities(points)
    return (cond + cond.T) / (2.0 * points.shape[0])


def neighbors_embedding_kl(latents: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """V_R = KL(P ‖ Q) between latent affinities P (of ``latents``) and data affinities Q.

    ``latents``: n×d codes; ``samples``: the n generated samples G(latents), any shape n×...
    Gradients flow to whichever of the two requires them (normally only ``samples``).
    """
    if latents.shape[0] != samples.shape[0]:
        raise ValueError("latents and samples must hold the same number of points")
    if latents.shape[0] < 2:
        raise ValueError("the neighbours embedding needs at least two points")
    p = joint_affinities(latents)
    q = joint_affinities(samples)
    off = ~torch.eye(p.shape[0], dtype=torch.bool, device=p.device)
    p, q = p[off], q[off]
    return (p * (torch.log(p.clamp_min(EPS)) - torch.log(q.clamp_min(EPS)))).sum()
