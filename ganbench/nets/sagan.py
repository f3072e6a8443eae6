"""Self-attention block and the SAGAN generator/discriminator (Zhang et al. 2019).

Zhang, Goodfellow, Metaxas, Odena 2019, "Self-Attention Generative Adversarial Networks"
(ICML), §3. For a feature map x ∈ R^{C×N} (N = H·W positions) and 1×1 convolutions
f(x) = W_f x, g(x) = W_g x, h(x) = W_h x (C -> C̄) and v(x) = W_v x (C̄ -> C), C̄ = C/8:

- s_ij = f(x_i)ᵀ g(x_j),  β_{j,i} = exp(s_ij) / Σ_i exp(s_ij)     (Eq. 1: softmax over i)
- o_j = v(Σ_i β_{j,i} h(x_i))                                     (Eq. 2)
- y_i = γ o_i + x_i, γ a learned scalar initialised at 0           (Eq. 3)

so a fresh block is exactly the identity. C̄ is at least 1 (tiny widths).
Departures from the official code (brain-research/self-attention-gan ``non_local.py``), which
follows the paper's equations but for speed max-pools φ and g by 2 (N/4 keys) and gives h
C/2 channels: here keys are not pooled and h has C/8 channels, as Eqs. 1-2 and the paper's
"C̄ = C/8" state; the 1×1 convs have no bias, as in that code.

**Nets** (family ``sagan``): the SN-GAN ResNet of :mod:`ganbench.nets.sngan` (the paper builds
on it), with spectral normalisation on every layer of G as well as D (§4, "SN on both G and
D"), and one self-attention block in G and one in D. Where: the paper's 128×128 ImageNet
model puts it at the 32×32 feature maps in both nets (the official code's
``generator_test`` / ``discriminator_test``: after G's 32×32 block, after D's 32×32 block), and
its Table 1 finds the larger maps (feat32, feat64) better than the small ones (feat8, feat16).
For our 28/32/48/64 px images a quarter of the side would be a 7/8/12/16 px map (the
paper's weaker "feat8"/"feat16" regime), so here the block sits at the **half-resolution
map**: 14 px for 28 px images, 16 px for 32 px, 24 px for 48 px, 32 px for 64 px — in G after
the up-block that produces that side, in D after the optimised first block (which produces
it); ``attention_at`` is ``image_size // 2``.
The SAGAN discriminator's ``norm`` defaults to ``spectral`` (the contract's others work too;
the attention convs are spectrally normalised exactly when the rest of D is).
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.layers import spectral
from ganbench.nets.sngan import ResNetDiscriminator, ResNetGenerator
from ganbench.registry import NETS


class SelfAttention(nn.Module):
    """y = γ·v(attention(f, g) · h(x)) + x over the H·W positions (Zhang et al. 2019, Eqs. 1-3)."""

    def __init__(self, channels: int, sn: bool = True, reduction: int = 8):
        super().__init__()
        inner = max(1, channels // reduction)
        self.f = spectral(nn.Conv2d(channels, inner, 1, bias=False), sn)
        self.g = spectral(nn.Conv2d(channels, inner, 1, bias=False), sn)
        self.h = spectral(nn.Conv2d(channels, inner, 1, bias=False), sn)
        self.v = spectral(nn.Conv2d(inner, channels, 1, bias=False), sn)
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """β as an N×P×P tensor whose column j holds β_{j,·} (sums to 1 over the row index i)."""
        f = self.f(x).flatten(2)                    # N × C̄ × P
        g = self.g(x).flatten(2)                    # N × C̄ × P
        s = torch.bmm(f.transpose(1, 2), g)         # s[:, i, j] = f(x_i)ᵀ g(x_j)
        return torch.softmax(s, dim=1)              # normalised over i

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.attention(x)
        h = self.h(x).flatten(2)                    # N × C̄ × P
        o = torch.bmm(h, beta)                      # o[:, :, j] = Σ_i β_{j,i} h(x_i)
        o = self.v(o.view(x.shape[0], -1, *x.shape[2:]))
        return self.gamma * o + x


@NETS.register("sagan_g")
class SAGANGenerator(ResNetGenerator):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64):
        super().__init__(z_dim, shape, width, sn=True, attention_at=shape[1] // 2,
                         attention=lambda ch: SelfAttention(ch, sn=True))


@NETS.register("sagan_d")
class SAGANDiscriminator(ResNetDiscriminator):
    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "spectral",
                 minibatch_std: bool = False):
        super().__init__(shape, width, norm, minibatch_std, attention_at=shape[1] // 2,
                         attention=lambda ch: SelfAttention(ch, sn=norm == "spectral"))
