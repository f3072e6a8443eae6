"""SN-GAN (Miyato et al. 2018): hinge loss with spectral normalisation on every D layer.

Miyato, Kataoka, Koyama, Yoshida 2018, "Spectral Normalization for Generative Adversarial
Networks" (ICLR). Every weight of D is used as W/σ(W) (Eq. 8), σ estimated by one power
iteration per training forward with a persistent u (Algorithm 1; ``torch.nn.utils.spectral_norm``,
via :func:`ganbench.nets.layers.spectral`). Loss: the hinge version the paper reports as its best
(its CIFAR-10/STL-10 tables list "SN-GANs" with the hinge loss; Lim & Ye 2017),
:mod:`ganbench.methods.hinge`:

  D: E relu(1 − D(x)) + E relu(1 + D(G(z)))        G: −E D(G(z))

Per iteration (Algorithm 1 / the loop of :mod:`ganbench.methods.adversarial`): n_dis D steps,
then one G step. Nets: ``net: sngan_cnn`` (default, the paper's "standard CNN", Appendix B) or
``net: resnet`` (its CIFAR ResNet), see :mod:`ganbench.nets.sngan`; on point data the MLP pair
(``net: mlp``, not in the paper). z ~ N(0, I), dim 128 for images.

Defaults per net (a suite's overrides win over both):

- ``sngan_cnn``: Adam lr 2e-4, β = (0.5, 0.999), n_dis 1 — the DCGAN setting (Radford et al.)
  among the paper's Table 1 settings (recalled as "C"; the paper's text was not at hand to
  re-check), and exactly what the authors' library runs for its SN-DCGAN
  (pfnet-research/chainer-gan-lib ``example.sh``: ``--algorithm stdgan --architecture sndcgan
  --n_dis 1 --adam_beta1 0.5 --adam_beta2 0.999``, ``--adam_alpha`` default 2e-4).
- ``resnet``: Adam lr 2e-4, β = (0, 0.9), n_dis 5, learning rate decayed linearly to 0 over the
  run (pfnet-research/sngan_projection ``configs/sn_cifar10_unconditional.yml``).
  ``lr_decay: none`` turns the decay off; ``lr_decay: linear`` turns it on for the CNN too.

Departures: batch size, iteration count and ``width`` come from the suite (the paper: batch 64,
50k–100k G updates, width 64); the sngan_projection config draws 128 samples for the G step
(here the same batch size as D's); ``d_norm`` may be set to something else than ``spectral``
for ablations (then it is no longer SN-GAN).
"""

from __future__ import annotations

from typing import Any, Literal

from ganbench.data.base import DatasetInfo
from ganbench.methods import hinge
from ganbench.methods.adversarial import AdversarialMethod
from ganbench.methods.base import MethodParams, RealSampler
from ganbench.nets.layers import DNorm
from ganbench.registry import METHODS

#: the ResNet's own defaults (sngan_projection's CIFAR-10 unconditional config)
RESNET_DEFAULTS: dict[str, Any] = {"beta1": 0.0, "beta2": 0.9, "n_critic": 5, "lr_decay": "linear"}


class LRDecayParams(MethodParams):
    """The shared options plus ``lr_decay`` (SN-GAN's and the projection cGAN's schedule)."""

    #: ``linear``: lr_t = lr · (1 − t/T) over the trial's T iterations (sngan_projection)
    lr_decay: Literal["none", "linear"] = "none"


class SNGANParams(LRDecayParams):
    net: str = "sngan_cnn"
    d_norm: DNorm = "spectral"


def linear_decay(optimizers, base_lrs, iteration: int, total: int | None, start: float = 0.0) -> None:
    """Sets each optimiser's lr to base · (1 − (t − s·T)⁺ / (T − s·T)) at iteration t of T = ``total``:
    constant for the first share s = ``start`` of the run, then linearly down to 0 (s = 0:
    base · (1 − t/T)). No-op without a total or with s ≥ 1."""
    if not total or start >= 1.0:
        return
    begin = start * total
    factor = max(0.0, 1.0 - max(0.0, iteration - begin) / max(1.0, total - begin))
    for opt, base in zip(optimizers, base_lrs):
        for group in opt.param_groups:
            group["lr"] = base * factor


class LinearLRDecay:
    """Mixed into an adversarial method whose params are :class:`LRDecayParams`: with
    ``lr_decay: linear``, G's and D's learning rates are set to lr · (1 − t/T) before iteration
    t's step (sngan_projection's ``LinearShift`` of Adam's α, from iteration 0 to the trial's T)."""

    def step(self, next_real: RealSampler):
        if self.params.lr_decay == "linear":
            linear_decay((self.opt_g, self.opt_d), (self.params.lr_g, self.params.lr_d),
                         self.iteration, self.total_iterations)
        return super().step(next_real)


@METHODS.register("sngan")
class SNGAN(LinearLRDecay, AdversarialMethod):
    """SN-GAN (Miyato et al. 2018): hinge loss, spectral norm on every D layer; standard CNN or ResNet."""

    name = "sngan"
    paper = "Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks"
    Params = SNGANParams

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        defaults = super().data_defaults(info)
        if info.kind == "image":
            defaults["z_dim"] = 128
        else:  # 2D/3D points: the MLP pair, spectrally normalised like any D
            defaults["net"] = "mlp"
        return defaults

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any], info: DatasetInfo) -> dict[str, Any]:
        data = cls.data_defaults(info)
        net = overrides.get("net", data.get("net", cls.Params.model_fields["net"].default))
        net_defaults = RESNET_DEFAULTS if net == "resnet" else {}
        return super().resolve_params({**net_defaults, **overrides}, info)

    def d_loss(self, real_logits, fake_logits):
        return hinge.discriminator_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits):
        return hinge.generator_loss(fake_logits)
