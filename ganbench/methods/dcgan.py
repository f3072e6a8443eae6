"""DCGAN: the non-saturating GAN with the DCGAN paper's networks and settings.

Radford, Metz, Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (ICLR 2016), §3 "Approach and model architecture" and §4
"Details of adversarial training". The loss is Goodfellow et al. 2014's non-saturating GAN
(D: softplus(-D(x)) + softplus(D(G(z))); G: softplus(-D(G(z)))), one D step per G step.
Settings of the paper: all-convolutional nets (strided convs in D, fractionally strided in G),
batch norm in G and D except G's output and D's input layer, ReLU in G with a tanh output,
LeakyReLU(0.2) in D, weights N(0, 0.02) (``ganbench.nets.dcgan``), Adam lr 2e-4 with β1 0.5,
z 100-dimensional and uniform (Fig. 1: "a 100 dimensional uniform distribution Z"), here
U(-1, 1) (the paper states no range); mini-batch 128 (a suite setting: ``train.batch_size``).

A named row so that tables can say "DCGAN"; ``gan`` is the same loss with ganbench's shared
defaults (z ~ N(0, I)). Departures: D ends in a linear head on the flattened last feature map
(the paper's 64×64 D ends in a convolution to one output: the same linear map); 28×28 images
start G from 7×7 (the paper's 64×64 nets start from 4×4); on 2D points the shared MLPs are
used (the paper has no toy experiments).
"""

from __future__ import annotations

import torch

from ganbench.methods.base import MethodParams
from ganbench.methods.gan import NonSaturatingGAN
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS


class DCGANParams(MethodParams):
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    d_norm: DNorm = "bn"


@METHODS.register("dcgan")
class DCGAN(NonSaturatingGAN):
    name = "dcgan"
    paper = ("Radford et al. 2016, Unsupervised Representation Learning with Deep Convolutional "
             "Generative Adversarial Networks")
    Params = DCGANParams

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ U(-1, 1)^z_dim (the paper's uniform Z)."""
        return torch.rand(n, self.params.z_dim, device=self.device, generator=generator) * 2.0 - 1.0
