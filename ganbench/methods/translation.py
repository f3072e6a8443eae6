"""The shared frame of the unpaired translation methods (CycleGAN, DualGAN, DiscoGAN).

Two domains A and B come as one pair dataset (:mod:`ganbench.data.pairs`: rows with an A image
in the first C channels and a B image in the last C). Every method of the family has two
translators ``G_ab: A → B`` and ``G_ba: B → A`` (:class:`~ganbench.nets.translation.Translator`)
and two critics ``D_a`` (real A vs ``G_ba(b)``) and ``D_b`` (real B vs ``G_ab(a)``)
(:class:`~ganbench.nets.translation.PatchDiscriminator`); the subclass supplies its losses and
its training step (each method's module reads as its paper's algorithm). A step returns its
losses as detached 0-d tensors on the device, never Python floats, as the adversarial loops do:
the trainer averages them over a logging window (:mod:`ganbench.train`).

Unpaired: :meth:`TranslationMethod.real_batches` calls ``next_real()`` twice and takes the A
images of the first batch and the B images of the second, so a row's A and B images are never
seen together.

What generic code sees: :meth:`translate` (``direction="ab" | "ba"``, images in the pair's
common format), which the translation metrics call through ``EvalContext.method``;
``sample(n, generator)`` = ``G_ab`` applied to n test A images (drawn with ``generator``, or
the first n without one), so the evaluator and grids keep working; :meth:`sample_figure`
writes ``samples.png``, a strip of one test image per digit class (the first of each class in
the test split; the first ten images when unlabelled) in six rows: A, G_ab(A),
G_ba(G_ab(A)), B, G_ba(B), G_ab(G_ba(B)) (source, translated, cycled back, each direction).

Options every member understands (:class:`TranslationParams`): ``width`` (the nets' base
channel count, default 32), ``n_res`` (residual blocks of the translators), ``norm`` (the
nets' normalisation: instance | batch | none), ``patch_d`` (PatchGAN scores or one global
score), ``lr_g``, ``lr_d``, ``beta1``, ``beta2``. The shared adversarial options that make no
sense for deterministic translators (``z_dim``, ``net``, ``d_norm``, ``minibatch_std``,
``pack``, ``ema_g``) are refused.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from ganbench.data.base import DatasetInfo, load_dataset
from ganbench.data.pairs import PAIR, split_domains
from ganbench.errors import GanbenchError
from ganbench.methods.base import Method, MethodParams, RealSampler, generate
from ganbench.nets.translation import PatchDiscriminator, Translator
from ganbench.paths import atomic_write_bytes

DIRECTIONS = ("ab", "ba")
TRANSLATE_BATCH = 500


class TranslationParams(MethodParams):
    #: residual blocks at the translators' bottleneck
    n_res: int = Field(2, ge=0)
    #: normalisation of the translators and critics
    norm: Literal["instance", "batch", "none"] = "instance"
    #: PatchGAN scores (True) or one score per image (False)
    patch_d: bool = True


class TranslationMethod(Method):
    """G_ab, G_ba, D_a, D_b on a pair dataset; subclasses implement :meth:`step`."""

    Params: ClassVar[type[MethodParams]] = TranslationParams
    unsupported_options: ClassVar[tuple[str, ...]] = ("z_dim", "net", "d_norm", "minibatch_std", "pack", "ema_g")
    translates: ClassVar[bool] = True

    def __init__(self, params: TranslationParams, info: DatasetInfo, device="cpu"):
        super().__init__(params, info, device)
        if info.kind != PAIR:
            raise GanbenchError(self._not_a_pair(info))
        shape = tuple(info.shape)
        self.G_ab = Translator(shape, params.width, params.n_res, params.norm).to(self.device)
        self.G_ba = Translator(shape, params.width, params.n_res, params.norm).to(self.device)
        self.D_a = PatchDiscriminator(shape, params.width, params.norm, params.patch_d).to(self.device)
        self.D_b = PatchDiscriminator(shape, params.width, params.norm, params.patch_d).to(self.device)
        self.opt_g = self.make_optimizer(itertools.chain(self.G_ab.parameters(), self.G_ba.parameters()),
                                         params.lr_g)
        self.opt_d = self.make_optimizer(itertools.chain(self.D_a.parameters(), self.D_b.parameters()),
                                         params.lr_d)
        self._test: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def _not_a_pair(cls, info: DatasetInfo) -> str:
        return (f"method {cls.name!r} translates between two domains; dataset {info.name!r} holds {info.kind} "
                "data, not a pair (use mnist2colored, mnist2edges or {name: pair, a: DATASET, b: DATASET})")

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict:
        if info.kind != PAIR:
            raise GanbenchError(cls._not_a_pair(info))
        return {"width": 32}

    def make_optimizer(self, parameters, lr: float) -> torch.optim.Optimizer:
        """Adam(lr, (beta1, beta2)) unless the method's paper says otherwise."""
        return torch.optim.Adam(parameters, lr=lr, betas=(self.params.beta1, self.params.beta2))

    # -- data -------------------------------------------------------------------------------
    def real_batches(self, next_real: RealSampler) -> tuple[torch.Tensor, torch.Tensor]:
        """(A images of one batch, B images of ANOTHER batch): the rows' pairing is never used."""
        a = split_domains(next_real(), self.info)[0]
        b = split_domains(next_real(), self.info)[1]
        return a, b

    def test_domains(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The pair's test split as (A images, B images) on the method's device (cached)."""
        if self._test is None:
            x, _ = load_dataset(self.info.name, "test", self.device)
            self._test = split_domains(x, self.info)
        return self._test

    # -- translation --------------------------------------------------------------------------
    def translator(self, direction: str) -> nn.Module:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'ab' or 'ba', not {direction!r}")
        return self.G_ab if direction == "ab" else self.G_ba

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "ab") -> torch.Tensor:
        """Images of the source domain (common format, [−1, 1]) -> the other domain, with the
        translator in eval mode (batch norm on running statistics), in batches of 500."""
        net = self.translator(direction)
        parts = [generate(net, x[i:i + TRANSLATE_BATCH].to(self.device)) for i in range(0, len(x), TRANSLATE_BATCH)]
        return torch.cat(parts) if parts else x[:0].to(self.device)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``G_ab`` on n test A images: drawn with ``generator`` (with replacement), else the first n."""
        source = self.test_domains()[0]
        if generator is not None:
            idx = torch.randint(len(source), (n,), generator=generator, device=generator.device).to(self.device)
        else:
            idx = torch.arange(n, device=self.device) % len(source)
        return self.translate(source[idx], "ab")

    # -- figures --------------------------------------------------------------------------------
    def strip_indices(self, labels: torch.Tensor) -> torch.Tensor:
        """The first test image of each class 0..K−1 (the first ten images when unlabelled)."""
        if self.info.num_classes and bool((labels >= 0).all()):
            picks = [int((labels == c).nonzero()[0]) for c in range(self.info.num_classes) if (labels == c).any()]
            return torch.tensor(picks)
        return torch.arange(min(10, len(labels)))

    def sample_figure(self, folder, generator: torch.Generator | None = None) -> list[Path]:
        """``samples.png``: rows A, G_ab(A), G_ba(G_ab(A)), B, G_ba(B), G_ab(G_ba(B))."""
        from torchvision.utils import save_image

        del generator  # the strip shows fixed test images
        xa, xb = self.test_domains()
        _, y = load_dataset(self.info.name, "test", "cpu")
        ia, ib = self.strip_indices(y[:, 0]), self.strip_indices(y[:, 1])
        cols = min(len(ia), len(ib))
        a, b = xa[ia[:cols].to(self.device)], xb[ib[:cols].to(self.device)]
        ab = self.translate(a, "ab")
        ba = self.translate(b, "ba")
        rows = [a, ab, self.translate(ab, "ba"), b, ba, self.translate(ba, "ab")]
        buf = io.BytesIO()
        save_image(torch.cat(rows).float().cpu(), buf, format="png", nrow=cols, normalize=True,
                   value_range=(-1, 1), padding=2)
        png = Path(folder) / "samples.png"
        atomic_write_bytes(png, buf.getvalue())
        return [png]

    # -- bookkeeping ----------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        return {"G_ab": self.G_ab, "G_ba": self.G_ba, "D_a": self.D_a, "D_b": self.D_b}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}
