"""BigGAN's generator, scaled to 28–32 px (Brock et al. 2019).

Brock, Donahue, Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis" (ICLR), §3 and Appendix B (its figure of the generator's residual block and its
table of the 32×32 architecture: 4·ch channels in every block, base 4×4, ch = 64 for CIFAR-10;
section and table numbers recalled, not re-checked). The pieces that make it BigGAN's and not
SN-GAN's ResNet G:

- **Shared class embedding**: one embedding table e = E[y] (``shared_dim`` wide, 128 in the
  paper) is shared by every conditional BN layer, instead of one γ/β table per layer.
- **Hierarchical latent** ("skip-z", §3): z is split into one chunk per resolution, n_blocks + 1
  chunks: the first feeds the linear layer to the b×b×ch map, chunk i+1 is joined to e and
  the result c_i = [e, z_i] conditions both BN layers of block i.
- **Conditional BN from a vector**: γ = 1 + W_γ c_i, β = W_β c_i
  (:class:`~ganbench.nets.conditional_norm.ConditionalBatchNorm2d` with ``cond_dim``).
- **Residual up-block** (Appendix B): CBN, ReLU, ×2 nearest up-sampling, conv 3×3, CBN, ReLU,
  conv 3×3; shortcut: up-sampling, conv 1×1. Output: BN, ReLU, conv 3×3 to the image channels,
  tanh (the output BN is unconditional, as in the authors' BigGAN-PyTorch ``output_layer``).
- **Spectral normalisation on every layer of G** (§3: SN in G as in SA-GAN), the CBN's linear
  maps included; the shared embedding is not normalised (it is a lookup table).
- **Orthogonal initialisation** (Saxe et al. 2014) of every conv, linear and embedding weight,
  as the paper's models (and the authors' BigGAN-PyTorch ``G_init: ortho``).

Scaling: ``width`` is the paper's ``ch`` (64 for CIFAR-10); every block has 4·width channels
as in the 32 px table. 32 px: base 4, three up-blocks (4 z chunks); 28 px (MNIST, not in the
paper): base 7, two up-blocks (3 chunks). When ``z_dim`` is not a multiple of the number of
chunks the first chunk takes the remainder (the authors' code truncates z to a multiple
instead). No self-attention block: the paper's 32 px model has none (its attention sits at 64 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.nets.conditional_norm import ConditionalBatchNorm2d
from ganbench.nets.layers import spectral
from ganbench.nets.sngan import _n_up, base_size
from ganbench.registry import NETS


def orthogonal_init(module: nn.Module) -> None:
    """Orthogonal weights (the raw weight under SN) and zero biases for every conv, linear and
    embedding of ``module`` (BigGAN Appendix B)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.orthogonal_(getattr(m, "weight_orig", m.weight))
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


class BigGANBlock(nn.Module):
    """BigGAN's up-block: CBN(c), ReLU, up ×2, conv3, CBN(c), ReLU, conv3; shortcut up ×2, conv1."""

    def __init__(self, cin: int, cout: int, cond_dim: int, sn: bool = True):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, cond_dim=cond_dim, spectral=sn)
        self.bn2 = ConditionalBatchNorm2d(cout, cond_dim=cond_dim, spectral=sn)
        self.conv1 = spectral(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.conv2 = spectral(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.shortcut = spectral(nn.Conv2d(cin, cout, 1), sn)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


@NETS.register("biggan_g")
class BigGANGenerator(nn.Module):
    """G(z, y): shared class embedding, hierarchical z, CBN residual up-blocks, SN, tanh."""

    def __init__(self, z_dim: int, shape, num_classes: int, width: int = 64, shared_dim: int = 128,
                 sn: bool = True):
        super().__init__()
        channels, size, _ = shape
        self.base = base_size(size)
        n_blocks = _n_up(size, self.base)
        slots = n_blocks + 1
        if z_dim < slots:
            raise ValueError(f"BigGAN G: z_dim {z_dim} is smaller than its {slots} latent chunks")
        chunk = z_dim // slots
        #: z's split: the first chunk (to the linear layer) takes the remainder
        self.chunks = [z_dim - chunk * n_blocks] + [chunk] * n_blocks
        self.z_dim, self.num_classes, self.ch = z_dim, num_classes, 4 * width
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = spectral(nn.Linear(self.chunks[0], self.ch * self.base * self.base), sn)
        self.blocks = nn.ModuleList(BigGANBlock(self.ch, self.ch, shared_dim + chunk, sn)
                                    for _ in range(n_blocks))
        self.out = nn.Sequential(nn.BatchNorm2d(self.ch), nn.ReLU(),
                                 spectral(nn.Conv2d(self.ch, channels, 3, 1, 1), sn), nn.Tanh())
        orthogonal_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        zs = torch.split(z, self.chunks, dim=1)
        e = self.shared(y)
        h = self.linear(zs[0]).view(-1, self.ch, self.base, self.base)
        for block, z_i in zip(self.blocks, zs[1:]):
            h = block(h, torch.cat([e, z_i], dim=1))
        return self.out(h)
