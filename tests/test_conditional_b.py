"""BigGAN, IcGAN and the class-conditional SAN (issue 11): conditional BN, the orthogonal
regulariser, truncation, IcGAN's encoders and re-generation, the per-class SAN direction."""

from __future__ import annotations

import pytest
import torch

from ganbench.nets.conditional_norm import ConditionalBatchNorm2d


# -- conditional batch norm ---------------------------------------------------------------------
def test_conditional_bn_picks_the_class_gamma_beta(one_thread):
    bn = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        bn.gamma_table.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        bn.beta_table.weight.copy_(torch.tensor([[0.0, 0.5], [-1.0, 1.0], [10.0, 20.0]]))
    # two samples, 2 channels, 1x1 maps: channel 0 = (1, 3) -> mean 2, var 1 -> normalised (-1, +1)
    #                                     channel 1 = (0, 4) -> mean 2, var 4 -> normalised (-1, +1)
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    bn.bn.eps = 1e-12  # (x − μ)/σ exactly, to float precision
    out = bn(x, torch.tensor([2, 0])).reshape(2, 2)
    # sample 0, class 2: γ = (5, 6), β = (10, 20): (5·(−1)+10, 6·(−1)+20) = (5, 14)
    # sample 1, class 0: γ = (1, 2), β = (0, 0.5): (1·1+0, 2·1+0.5) = (1, 2.5)
    torch.testing.assert_close(out, torch.tensor([[5.0, 14.0], [1.0, 2.5]]))
    fresh = ConditionalBatchNorm2d(2, num_classes=3)  # starts as plain BN: γ = 1, β = 0
    fresh.bn.eps = 1e-12
    torch.testing.assert_close(fresh(x, torch.tensor([1, 1])).reshape(2, 2),
                               torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))


def test_conditional_bn_from_a_vector(one_thread):
    bn = ConditionalBatchNorm2d(2, cond_dim=3)
    with torch.no_grad():
        bn.gain.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
        bn.bias.weight.copy_(torch.tensor([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    bn.bn.eps = 1e-12  # (x − μ)/σ exactly, to float precision
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)  # normalised: (-1,-1), (1,1)
    c = torch.tensor([[1.0, 1.0, 2.0], [0.0, -1.0, 3.0]])
    # sample 0: γ = 1 + (1, 2) = (2, 3), β = (2, 4): (−2+2, −3+4) = (0, 1)
    # sample 1: γ = 1 + (0, −2) = (1, −1), β = (3, 2): (1+3, −1+2) = (4, 1)
    torch.testing.assert_close(bn(x, c).reshape(2, 2), torch.tensor([[0.0, 1.0], [4.0, 1.0]]))
    with pytest.raises(ValueError):
        ConditionalBatchNorm2d(2)
