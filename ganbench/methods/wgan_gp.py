"""WGAN with gradient penalty (Gulrajani et al. 2017, Algorithm 1).

Critic minimises E D(G(z)) - E D(x) + λ E(‖∇_x̂ D(x̂)‖₂ - 1)² with λ = 10, n_critic = 5,
no batch norm in the critic (``d_norm: none``; layer norm is allowed).
Optimiser: Adam lr 1e-4 with β = (0.5, 0.9) as in the official code (igul222 gan_mnist.py);
the paper's Algorithm 1 lists β1 = 0 — set ``beta1: 0`` to follow it.
"""

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams
from ganbench.methods.penalties import wgan_gp_penalty
from ganbench.methods.wgan import critic_loss, generator_loss
from ganbench.registry import METHODS


class WGANGPParams(MethodParams):
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    n_critic: int = 5
    d_norm: str = "none"
    lambda_gp: float = 10.0


@METHODS.register("wgan_gp")
class WGANGP(AdversarialMethod):
    name = "wgan_gp"
    paper = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs"
    Params = WGANGPParams

    def d_loss(self, real_logits, fake_logits):
        return critic_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return generator_loss(fake_logits)

    def d_penalty(self, real, fake):
        return self.params.lambda_gp * wgan_gp_penalty(self.D, real, fake)
