"""What a method is: networks, optimisers, losses, and one training step.

A method exposes ``step(next_real) -> dict[str, float]`` (one generator iteration,
including its critic steps; ``next_real()`` returns a fresh real mini-batch) and
``sample(n) -> tensor`` (images in [-1, 1], or points). Hyperparameters are a pydantic
model, so a suite override with a wrong name or type is caught before any trial starts.
"""

from __future__ import annotations

import abc
import sys
from typing import Any, Callable, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from torch import nn

from ganbench.data.base import DatasetInfo
from ganbench.errors import GanbenchError
from ganbench.nets.layers import D_NORMS, DNorm

RealSampler = Callable[[], torch.Tensor]


@torch.no_grad()
def generate(G: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """G(z) (or G(z, y), ...) with G in eval mode (batch norm on its running statistics), mode
    restored after."""
    was_training = G.training
    G.eval()
    try:
        return G(*inputs)
    finally:
        G.train(was_training)


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The labels a conditional method draws when none are given: sample i is of class i % K,
    so every class gets n/K samples (±1) and evaluation is deterministic."""
    if num_classes < 1:
        raise ValueError("balanced_labels: the dataset has no classes")
    return torch.arange(n, device=device) % num_classes


class MethodParams(BaseModel):
    """Hyperparameters every method understands. ``None`` means "the data kind's default"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    z_dim: int | None = None
    width: int | None = None
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    #: the discriminator's normalisation: none | bn | layer | spectral (SN on every conv/linear)
    d_norm: DNorm = "bn"
    #: minibatch standard deviation feature before D's last block (Karras et al. 2018, §3)
    minibatch_std: bool = False
    #: PacGAN packing degree m: D sees m samples at once (Lin et al. 2018); batch % m == 0
    pack: int = Field(1, ge=1)
    #: decay of an exponential moving average of G's weights used for sampling (None: off)
    ema_g: float | None = Field(None, ge=0.0, lt=1.0)
    #: the net family: NETS[f"{net}_g"], NETS[f"{net}_d"]; auto = dcgan (images), mlp (points)
    net: str = "auto"

    @field_validator("d_norm", check_fields=False)
    @classmethod
    def _known_norm(cls, v: str) -> str:
        # also guards a subclass that redeclares ``d_norm`` with a plain ``str`` annotation
        if v not in D_NORMS:
            raise ValueError(f"expected one of {', '.join(repr(n) for n in D_NORMS)}")
        return v

    @field_validator("net")
    @classmethod
    def _known_family(cls, v: str) -> str:
        from ganbench.registry import NETS

        if v != "auto" and not (f"{v}_g" in NETS and f"{v}_d" in NETS):
            families = sorted({n[:-2] for n in NETS.names() if n.endswith("_g") and f"{n[:-2]}_d" in NETS})
            raise ValueError(f"unknown net family {v!r} (known: auto, {', '.join(families)})")
        return v


class Method(abc.ABC):
    """Base of all methods. Subclasses build their networks in ``__init__``."""

    Params: ClassVar[type[MethodParams]] = MethodParams
    name: ClassVar[str] = ""
    #: the paper the method follows, "Authors year, Title" (shown by ``ganbench list methods``)
    paper: ClassVar[str] = ""
    #: the name tables and figures print ("WGAN-GP"); empty: the report's own table, else ``name``
    display_name: ClassVar[str] = ""
    #: shared options this method's training loop does not honour; a non-default value is a
    #: validation error naming the key (the adversarial loop honours all of them)
    unsupported_options: ClassVar[tuple[str, ...]] = ("pack", "ema_g")
    #: a conditional method consumes labels: the trainer's ``next_real()`` returns ``(x, y)``
    #: (y int64 class indices on the method's device) and ``sample(n, generator, labels=None)``
    #: draws ``labels`` (default :func:`balanced_labels`: sample i is of class i % K)
    conditional: ClassVar[bool] = False
    #: a translation method (:mod:`ganbench.methods.translation`) trains on a pair dataset
    #: (kind "pair", :mod:`ganbench.data.pairs`); every other method refuses one
    translates: ClassVar[bool] = False

    def __init__(self, params: MethodParams, info: DatasetInfo, device: torch.device | str = "cpu"):
        self.params = params
        self.info = info
        self.device = torch.device(device)
        self.iteration = 0
        #: the trial's iteration budget, set by the trainer (schedules such as Dist-GAN's use it)
        self.total_iterations: int | None = None

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any], info: DatasetInfo) -> dict[str, Any]:
        """Defaults <- data-kind defaults <- suite overrides, validated, fully concrete."""
        if info.kind == "pair" and not cls.translates:
            raise GanbenchError(f"method {cls.name!r} does not translate between domains; dataset {info.name!r} "
                                "is an unpaired translation pair (its methods: cyclegan, dualgan, discogan)")
        merged = {**cls.data_defaults(info), **overrides}
        d_norm = cls.Params.model_fields.get("d_norm")
        if info.kind == "points" and "d_norm" not in merged and d_norm is not None and d_norm.default == "bn":
            merged["d_norm"] = "none"  # DCGAN's batch norm is an image default; the 2D MLP D has none
        resolved = cls.Params(**merged).model_dump()
        for key in cls.unsupported_options:
            field = cls.Params.model_fields.get(key)
            if field is not None and resolved[key] != field.default:
                raise ValidationError.from_exception_data(cls.Params.__name__, [InitErrorDetails(
                    type=PydanticCustomError("unsupported", f"method {cls.name!r} does not support {key}"),
                    loc=(key,), input=resolved[key])])
        return resolved

    @classmethod
    def description(cls) -> str:
        """The first paragraph of the class's own docstring, else of its module's, on one line."""
        doc = cls.__dict__.get("__doc__") or sys.modules[cls.__module__].__doc__ or ""
        return " ".join(doc.strip().split("\n\n")[0].split())

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        if info.kind == "points":
            return {"z_dim": 2, "width": 128}
        return {"z_dim": 100, "width": 64}

    @abc.abstractmethod
    def step(self, next_real: RealSampler) -> dict[str, float]:
        """One training iteration; returns named scalar losses."""

    @abc.abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated samples, detached, on the method's device."""

    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """The networks, by name (saved in checkpoints)."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers, by name (saved in checkpoints)."""

    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        self.load_extra_state(state.get("extra", {}))

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        del state

    def sample_figure(self, folder, generator: torch.Generator | None = None) -> list | None:
        """Write this method's own end-of-trial sample figures into ``folder`` and return their
        paths (a conditional grid with one row per class, a translation strip); ``None`` (the
        default): the trial writes the generic grid or scatter of ``sample(64)``."""
        del folder, generator
        return None

    def progress_values(self) -> dict[str, float]:
        """The method's own progress signals, merged into every evaluation's values
        (evals.jsonl, results.csv, MLflow), e.g. BEGAN's convergence measure; default none."""
        return {}
