"""The alternating D/G loop of the class-conditional GANs (cgan, acgan, projection, biggan, ...).

The same loop as :mod:`ganbench.methods.adversarial` (Goodfellow et al. 2014, Algorithm 1,
with ``n_critic`` D steps), with the class label carried to both networks (Mirza & Osindero
2014, eq. 2):
  for k in 1..n_critic:  (x, y) ~ data, z ~ N(0, I);  D <- D - lr_d ∇ L_D(D(x, y), D(G(z, y), y))
  z ~ N(0, I);  G <- G - lr_g ∇ L_G(D(G(z, y), y))
The generated batch is conditioned on the labels of the real batch drawn in the same step, so
fake labels follow the data's class frequencies (balanced for MNIST-like data) and need no
extra random draw. At sampling (:meth:`sample`) the labels are given or, by default,
:func:`~ganbench.methods.base.balanced_labels` (sample i of class i % K).

A subclass builds ``G(z, y)`` and ``D(x, y)`` in :meth:`build_nets` and supplies ``d_loss`` /
``g_loss`` on D's outputs, or overrides the ``*_step_loss`` hooks (AC-GAN's class head).
Packing (PacGAN) is not defined for labelled inputs and is refused at validation; ``ema_g``
is honoured as in the unconditional loop. A dataset without class labels (or of points) is
refused at validation too, in one line naming the method and the dataset.

As in the unconditional loop, ``step`` returns its losses (``loss_d``, ``loss_g``, ``g_reg`` and
whatever a subclass's ``d_step_loss`` adds) as detached 0-d tensors on the device, never Python
floats: the trainer averages them over a logging window (:mod:`ganbench.train`), so a GPU is
not made to wait at every iteration.

End of a trial (:meth:`sample_figure`): ``samples.png`` holds one row per class (K rows of
:data:`GRID_COLUMNS` samples, row k drawn for class k) and column j shares one z across all
rows, so a row shows the class's variety and a column how the label alone changes the image.
The nets for G(z, y) and D(x, y) are in :mod:`ganbench.nets.conditional`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams, RealSampler, balanced_labels, generate
from ganbench.paths import atomic_write_bytes

#: samples per class row of the end-of-trial grid
GRID_COLUMNS = 8


class ConditionalAdversarialMethod(AdversarialMethod):
    """G(z, y) and D(x, y) trained by alternating gradient steps; labels from the data."""

    conditional: ClassVar[bool] = True
    unsupported_options: ClassVar[tuple[str, ...]] = ("pack",)

    def __init__(self, params: MethodParams, info: DatasetInfo, device="cpu"):
        if info.num_classes < 2:
            from ganbench.errors import GanbenchError

            raise GanbenchError(f"method {self.name!r} is conditional: dataset {info.name!r} has no class labels")
        self.num_classes = info.num_classes
        super().__init__(params, info, device)

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any], info: DatasetInfo) -> dict[str, Any]:
        if info.kind != "image" or info.num_classes < 2:
            what = "is not an image dataset" if info.kind != "image" else "has no class labels"
            raise ValidationError.from_exception_data(cls.Params.__name__, [InitErrorDetails(
                type=PydanticCustomError("conditional", f"method {cls.name!r} is class-conditional: "
                                                        f"dataset {info.name!r} {what}"),
                loc=(), input=info.name)])
        return super().resolve_params(overrides, info)

    #: the conditional nets (``ganbench.nets.conditional``) wrapped around ``params.net``'s family;
    #: a method with nets of its own (BigGAN, projection) overrides :meth:`build_nets`
    g_net: ClassVar[str] = "cond_concat_g"
    d_net: ClassVar[str] = "cond_maps_d"

    def build_nets(self, params: MethodParams, info: DatasetInfo) -> tuple[nn.Module, nn.Module]:
        from ganbench.methods.adversarial import net_family
        from ganbench.registry import NETS

        family = net_family(params, info)
        g = NETS.get(self.g_net)(family, params.z_dim, info.shape, info.num_classes, width=params.width)
        d = NETS.get(self.d_net)(family, info.shape, info.num_classes, width=params.width,
                                 norm=params.d_norm, minibatch_std=params.minibatch_std)
        return g, d

    # -- the paper's pieces (labels added) -------------------------------------------------
    def d_step_loss(self, real: torch.Tensor, y: torch.Tensor, fake: torch.Tensor,
                    y_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The critic's loss on a real and a (detached) generated batch with their labels, plus
        extra stats (detached 0-d tensors, like the losses :meth:`step` returns)."""
        return self.d_loss(self.D(real, y), self.D(fake, y_fake)), {}

    def g_step_loss(self, real: torch.Tensor, y: torch.Tensor, fake: torch.Tensor,
                    y_fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss on a generated batch drawn for ``y_fake``."""
        return self.g_loss(self.D(fake, y_fake))

    def g_regularizer(self) -> torch.Tensor | None:
        """An extra term added to G's loss (BigGAN's orthogonal regularisation); None: none."""
        return None

    def d_regularizer(self) -> torch.Tensor | None:
        """An extra term added to D's loss; None: none."""
        return None

    # -- the loop -------------------------------------------------------------------------
    def step(self, next_real: RealSampler) -> dict[str, torch.Tensor]:
        stats: dict[str, torch.Tensor] = {}
        real = y = None
        for _ in range(self.critic_steps()):
            real, y = next_real()
            with torch.no_grad():
                fake = self.G(self.prior(real.shape[0]), y)
            loss_d, extra = self.d_step_loss(real, y, fake, y)
            reg = self.d_regularizer()
            total_d = loss_d if reg is None else loss_d + reg
            self.opt_d.zero_grad(set_to_none=True)
            total_d.backward()
            self.opt_d.step()
            self.after_d_step()
            stats["loss_d"] = loss_d.detach()
            stats.update(extra)
        if real is None:
            real, y = next_real()
        fake = self.G(self.prior(real.shape[0]), y)
        loss_g = self.g_step_loss(real, y, fake, y)
        reg = self.g_regularizer()
        total_g = loss_g if reg is None else loss_g + reg
        self.opt_g.zero_grad(set_to_none=True)
        total_g.backward()
        self.opt_g.step()
        if self.G_ema is not None:
            self.G_ema.update(self.G)
        stats["loss_g"] = loss_g.detach()
        if reg is not None:
            stats["g_reg"] = reg.detach()
        self.iteration += 1
        return stats

    def eval_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The z of :meth:`sample` and :meth:`sample_figure`: the training prior unless a method
        samples otherwise (BigGAN's truncation trick)."""
        return self.prior(n, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images for ``labels`` (default: balanced, sample i of class i % K)."""
        if labels is None:
            labels = balanced_labels(n, self.num_classes, self.device)
        if len(labels) != n:
            raise ValueError(f"sample({n}): {len(labels)} labels given")
        return generate(self.sampling_generator(), self.eval_prior(n, generator), labels.to(self.device))

    def sample_figure(self, folder, generator: torch.Generator | None = None) -> list[Path]:
        """``samples.png``: one row per class, :data:`GRID_COLUMNS` columns sharing z (atomic write)."""
        from torchvision.utils import save_image

        k, cols = self.num_classes, GRID_COLUMNS
        z = self.eval_prior(cols, generator).repeat(k, 1)                       # row-major: z of column j
        labels = torch.arange(k, device=self.device).repeat_interleave(cols)  # row k: class k
        with torch.no_grad():
            images = generate(self.sampling_generator(), z, labels)
        png = Path(folder) / "samples.png"
        buf = io.BytesIO()
        save_image(images.float().cpu(), buf, format="png", nrow=cols, normalize=True, value_range=(-1, 1))
        atomic_write_bytes(png, buf.getvalue())
        return [png]
