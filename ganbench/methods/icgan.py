"""IcGAN: a cGAN plus the encoders that invert it (Perarnau et al. 2016).

Perarnau, van de Weijer, Raducanu, Álvarez 2016, "Invertible Conditional GANs for image
editing" (NIPS Workshop on Adversarial Training, arXiv:1611.06355). An image x is mapped to a
latent code and a condition by two encoders, and re-generated with any condition:

    z = E_z(x),  y = E_y(x),   x' = G(z, y')          (y' = y: reconstruction; another y': an edit)

Section numbers below are recalled from the paper, not re-checked.

**cGAN** (§3.1): the cGAN of :mod:`ganbench.methods.cgan` (Mirza & Osindero 2014), y joined to
G's input and to D's input — the paper's best placement ("y at the input" of G and of D's first
layer, its §4.2 comparison); DCGAN-style nets, BCE loss, Adam 2e-4, β = (0.5, 0.999).

**Encoders** (§3.2), two independent nets (the paper's "IND" design, its best):

    L_ez = E_{z∼p_z, y'∼p_y} ‖z − E_z(G(z, y'))‖²₂        (E_z learns on generated images, whose z is known)
    L_ey = E_{(x, y)∼p_data} ℓ(y, E_y(x))                  (E_y learns on real labelled images)

E_z and E_y are ganbench's ``dcgan_e`` encoder (the DCGAN discriminator's conv stack ending in a
linear layer), E_z to ``z_dim`` outputs, E_y to K class logits; Adam ``lr_e`` 2e-4, β = (0.5,
0.999). y' are the labels of the real batch of the same iteration; the generated images come from
the sampling generator (G's EMA when ``ema_g`` is set) in eval mode, without gradient — the G
that :meth:`IcGAN.reconstruct` inverts.

**Schedule.** The paper trains the cGAN first and the encoders afterwards, on the trained and
frozen G. One ganbench trial has one iteration budget T, so here the cGAN trains for all T
iterations (as ``cgan`` in the same suite, so both are judged on the same G budget) and the
encoders train **alongside it in the last part of the trial**: from iteration
⌈``encoder_start``·T⌉ on (default 0.5), every iteration ends with one E_z step on a fresh
generated batch and one E_y step on that iteration's last real batch. E_z thus chases a G that
still moves, slowly, late in training; ``encoder_start: 0`` trains them throughout. Without a
known budget (T unset: a method stepped by hand) the encoders train from the first iteration.

Departures: ℓ is the categorical cross-entropy (MNIST's classes are exclusive); the paper writes
L_ey as the squared error ‖y − E_y(x)‖²₂ on its label vectors (CelebA's binary attributes, one-hot
digits); the encoders train alongside the late cGAN rather than after it (above); the paper's
nets (its Table: 4×4 convs, BN, ReLU/LeakyReLU at 64×64) are replaced by ganbench's 28–32 px
DCGAN stacks. :meth:`IcGAN.reconstruct` is the paper's Fig. 1 pipeline.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.base import RealSampler, generate
from ganbench.methods.cgan import CGAN, CGANParams
from ganbench.paths import atomic_write_bytes
from ganbench.registry import METHODS, NETS


class IcGANParams(CGANParams):
    #: Adam learning rate of the encoders E_z and E_y
    lr_e: float = Field(2e-4, gt=0.0)
    #: the share of the trial after which the encoders train (each iteration from then on)
    encoder_start: float = Field(0.5, ge=0.0, lt=1.0)


def latent_loss(z: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
    """L_ez: the squared Euclidean distance ‖z − ẑ‖²₂ per sample, averaged over the batch."""
    return (z - z_hat).square().sum(dim=1).mean()


def label_loss(y: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """L_ey: the cross-entropy of E_y's class logits against the true class."""
    return F.cross_entropy(logits, y)


@METHODS.register("icgan")
class IcGAN(CGAN):
    """IcGAN (Perarnau et al. 2016): a cGAN with encoders E_z (on generated images) and E_y (on real ones)."""

    name = "icgan"
    display_name = "IcGAN"
    paper = "Perarnau et al. 2016, Invertible Conditional GANs for image editing"
    Params = IcGANParams

    def __init__(self, params: IcGANParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        self.E_z = NETS.get("dcgan_e")(info.shape, params.z_dim, width=params.width).to(self.device)
        self.E_y = NETS.get("dcgan_e")(info.shape, self.num_classes, width=params.width).to(self.device)
        betas = (params.beta1, params.beta2)
        self.opt_ez = torch.optim.Adam(self.E_z.parameters(), lr=params.lr_e, betas=betas)
        self.opt_ey = torch.optim.Adam(self.E_y.parameters(), lr=params.lr_e, betas=betas)

    # -- the schedule ----------------------------------------------------------------------
    def encoders_training(self) -> bool:
        """Whether this iteration ends with the encoder steps (see the module's "Schedule")."""
        if self.total_iterations is None:
            return True
        return self.iteration >= math.ceil(self.params.encoder_start * self.total_iterations)

    def step(self, next_real: RealSampler) -> dict[str, Any]:
        last: list = []

        def remembered():
            batch = next_real()
            last[:] = [batch]
            return batch

        train_encoders = self.encoders_training()  # decided before the cGAN step counts the iteration
        stats = super().step(remembered)
        if train_encoders:
            x, y = last[0]
            stats.update(self.encoder_step(x, y))
        return stats

    def encoder_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step of E_z on G(z, y) for fresh z, one of E_y on the real (x, y); their losses as
        detached 0-d tensors."""
        z = self.prior(len(y))
        with torch.no_grad():
            generated = generate(self.sampling_generator(), z, y)
        loss_ez = latent_loss(z, self.E_z(generated))
        self.opt_ez.zero_grad(set_to_none=True)
        loss_ez.backward()
        self.opt_ez.step()
        loss_ey = label_loss(y, self.E_y(x))
        self.opt_ey.zero_grad(set_to_none=True)
        loss_ey.backward()
        self.opt_ey.step()
        return {"loss_ez": loss_ez.detach(), "loss_ey": loss_ey.detach()}

    # -- the paper's use ----------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E_z(x), E_y(x)'s class): the latent code and the predicted label of each image."""
        nets = (self.E_z, self.E_y)
        modes = [n.training for n in nets]
        for n in nets:
            n.eval()
        try:
            x = x.to(self.device)
            return self.E_z(x), self.E_y(x).argmax(dim=1)
        finally:
            for n, mode in zip(nets, modes):
                n.train(mode)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y_new: torch.Tensor | None = None) -> torch.Tensor:
        """x' = G(E_z(x), y_new): ``x`` re-generated with the labels ``y_new`` (None: E_y(x), a
        plain reconstruction)."""
        z, y_hat = self.encode(x)
        y = y_hat if y_new is None else y_new.to(self.device)
        if len(y) != len(z):
            raise ValueError(f"reconstruct: {len(z)} images but {len(y)} labels")
        return generate(self.sampling_generator(), z, y)

    def sample_figure(self, folder, generator: torch.Generator | None = None) -> list[Path]:
        """``samples.png`` (one row per class, as every conditional method) and ``edits.png``:
        one row per real test image (the first of each class in the dataset's test split):
        the image, its reconstruction G(E_z(x), E_y(x)), then its re-generation with each class
        0..K−1 (the paper's Fig. 1 use, on MNIST)."""
        from torchvision.utils import save_image

        from ganbench.data.base import get_dataset

        paths = super().sample_figure(folder, generator)
        x, y = get_dataset(self.info.name).load_split(self.info.splits[-1])
        if y is None:
            return paths
        k = self.num_classes
        firsts = [int(torch.nonzero(y == c)[0]) for c in range(k) if bool((y == c).any())]
        real = x[firsts].to(self.device)
        columns = [real, self.reconstruct(real)]
        columns += [self.reconstruct(real, torch.full((len(real),), c, device=self.device)) for c in range(k)]
        grid = torch.stack(columns, dim=1).flatten(0, 1)  # row i: image i, its reconstruction, its K edits
        png = Path(folder) / "edits.png"
        buf = io.BytesIO()
        save_image(grid.float().cpu(), buf, format="png", nrow=k + 2, normalize=True, value_range=(-1, 1))
        atomic_write_bytes(png, buf.getvalue())
        return [*paths, png]

    def modules(self) -> dict[str, nn.Module]:
        return {**super().modules(), "E_z": self.E_z, "E_y": self.E_y}

    def optimizers(self):
        return {**super().optimizers(), "E_z": self.opt_ez, "E_y": self.opt_ey}
