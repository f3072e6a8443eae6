"""Wasserstein GAN with weight clipping (Arjovsky et al. 2017, Algorithm 1).

Critic minimises E D(G(z)) - E D(x); G minimises -E D(G(z)). After every critic step the
critic's weights are clipped to [-c, c], c = 0.01. RMSProp lr 5e-5 for both, n_critic = 5.
As in the official code (martinarjovsky/WassersteinGAN ``main.py``), the critic takes 100 steps for each of the
first 25 generator iterations and every 500th one (``critic_boost``).
"""

import torch

from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams
from ganbench.registry import METHODS


class WGANParams(MethodParams):
    lr_g: float = 5e-5
    lr_d: float = 5e-5
    n_critic: int = 5
    clip: float = 0.01
    critic_boost: bool = True


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    return fake_scores.mean() - real_scores.mean()


def generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


@METHODS.register("wgan")
class WGAN(AdversarialMethod):
    name = "wgan"
    paper = "Arjovsky et al. 2017, Wasserstein Generative Adversarial Networks"
    Params = WGANParams
    optimizer = "rmsprop"

    def d_loss(self, real_logits, fake_logits):
        return critic_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return generator_loss(fake_logits)

    def critic_steps(self) -> int:
        if self.params.critic_boost and (self.iteration < 25 or self.iteration % 500 == 0):
            return 100
        return self.params.n_critic

    @torch.no_grad()
    def after_d_step(self) -> None:
        for p in self.D.parameters():
            p.clamp_(-self.params.clip, self.params.clip)
