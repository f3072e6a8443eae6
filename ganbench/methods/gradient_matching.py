"""Generator objectives on discriminator scores: Dist-GAN's score distance and GN-GAN's
gradient matching (Tran, Bui, Cheung, AAAI 2019; formulas as in the GN-GAN student
report, Eq. (1)).

Notation: l(x) is D's logit and D(x) = σ(l(x)) the probability, as in the report's V_D
(E log D(x) + E log(1 − D(G(z)))).

- Score distance (Dist-GAN, official code ``g_cost``; GN-GAN's first term):
      |E_x σ(l(x)) − E_z σ(l(G(z)))|
- Gradient matching, "expectation" form (report Eq. (1)):
      V_G = |E_x D(x) − E_z D(G(z))|
            + λ_m1 ‖E_x ∇_x D(x) − E_z ∇_x D(G(z))‖²
            + λ_m2 |E_x ∇_x D(x)ᵀx − E_z ∇_x D(G(z))ᵀG(z)|²
  motivated by a first-order Taylor expansion of D around the samples.
- "norm" form (the report's stability variant, "pour plus de stabilité"):
  E_x ∇D(x) becomes E_x ‖∇D(x)‖ and E_x ∇D(x)ᵀx becomes E_x |∇D(x)ᵀx|, so the two matching
  terms become squared differences of scalars:
      λ_m1 (E_x ‖∇D(x)‖ − E_z ‖∇D(G(z))‖)² + λ_m2 (E_x |∇D(x)ᵀx| − E_z |∇D(G(z))ᵀG(z)|)²

ganbench choices where the sources are silent:
- ∇ is the input gradient of the probability D = σ(l) by default (the report's ∇_x D(x),
  with its D a probability). ``score="logit"`` differentiates the logit instead (never saturates); the
  first term always uses σ(l).
- ∇_x D(x_i) for a batch is the gradient of Σ_i D(x_i) w.r.t. the batch, i.e. per-sample
  gradients as long as D treats samples independently (with batch norm in training mode
  D(x_i) also depends on the other samples through the batch statistics; the gradient then
  includes that coupling).
- The real-side terms do not depend on G and are computed without a graph; the fake side
  uses ``create_graph=True`` so that G's backward goes through ∇_x D(G(z)).
"""

from __future__ import annotations

from typing import Callable

import torch

Logits = Callable[[torch.Tensor], torch.Tensor]


def score_distance(real_probs: torch.Tensor, fake_probs: torch.Tensor) -> torch.Tensor:
    """|mean σD(x) − mean σD(G(z))| (Dist-GAN's generator loss, GN-GAN's first V_G term)."""
    return (real_probs.mean() - fake_probs.mean()).abs()


def scores_and_gradients(logits_fn: Logits, x: torch.Tensor, score: str = "prob",
                         create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(σ(l(x)), ∇_x s(x)) with s = σ∘l (``score="prob"``) or s = l (``score="logit"``).

    ``x`` must require grad (a generated batch does; a real batch must be marked first).
    With ``create_graph=False`` both outputs are detached.
    """
    if score not in ("prob", "logit"):
        raise ValueError(f"score must be 'prob' or 'logit', not {score!r}")
    logits = logits_fn(x)
    probs = torch.sigmoid(logits)
    target = probs if score == "prob" else logits
    (grad,) = torch.autograd.grad(target.sum(), x, create_graph=create_graph)
    if not create_graph:
        return probs.detach(), grad.detach()
    return probs, grad


def matching_terms(real_x: torch.Tensor, real_grad: torch.Tensor, fake_x: torch.Tensor,
                   fake_grad: torch.Tensor, matching: str = "expectation") -> dict[str, torch.Tensor]:
    """The two first-order terms of V_G, without their λ weights.

    ``grad`` (first-order term): ‖E_x ∇D(x) − E_z ∇D(G(z))‖²  ("expectation") or
    (E_x ‖∇D(x)‖ − E_z ‖∇D(G(z))‖)²  ("norm").
    ``dot`` (the ∇Dᵀx term): |E_x ∇D(x)ᵀx − E_z ∇D(G(z))ᵀG(z)|²  or
    (E_x |∇D(x)ᵀx| − E_z |∇D(G(z))ᵀG(z)|)².
    """
    rg, fg = real_grad.flatten(1), fake_grad.flatten(1)
    r_dot = (rg * real_x.flatten(1)).sum(1)
    f_dot = (fg * fake_x.flatten(1)).sum(1)
    if matching == "expectation":
        grad_term = (rg.mean(0) - fg.mean(0)).pow(2).sum()
        dot_term = (r_dot.mean() - f_dot.mean()).pow(2)
    elif matching == "norm":
        grad_term = (torch.linalg.vector_norm(rg, dim=1).mean()
                     - torch.linalg.vector_norm(fg, dim=1).mean()).pow(2)
        dot_term = (r_dot.abs().mean() - f_dot.abs().mean()).pow(2)
    else:
        raise ValueError(f"matching must be 'expectation' or 'norm', not {matching!r}")
    return {"grad": grad_term, "dot": dot_term}


def gradient_matching_loss(logits_fn: Logits, real: torch.Tensor, fake: torch.Tensor,
                           lambda_m1: float, lambda_m2: float, matching: str = "expectation",
                           score: str = "prob") -> tuple[torch.Tensor, dict[str, float]]:
    """V_G (report Eq. (1)) for G's step; ``fake`` = G(z) carrying G's graph.

    Returns the loss and its three terms (unweighted) as floats for logging.
    """
    real = real.detach().requires_grad_(True)
    real_probs, real_grad = scores_and_gradients(logits_fn, real, score, create_graph=False)
    fake_probs, fake_grad = scores_and_gradients(logits_fn, fake, score, create_graph=True)
    dist = score_distance(real_probs, fake_probs)
    terms = matching_terms(real.detach(), real_grad, fake, fake_grad, matching)
    loss = dist + lambda_m1 * terms["grad"] + lambda_m2 * terms["dot"]
    stats = {"gm_score": dist.detach(), "gm_grad": terms["grad"].detach(),
             "gm_dot": terms["dot"].detach()}
    return loss, stats
