"""What a method is: networks, optimisers, losses, and one training step.

A method exposes ``step(next_real) -> dict[str, float]`` (one generator iteration,
including its critic steps; ``next_real()`` returns a fresh real mini-batch) and
``sample(n) -> tensor`` (images in [-1, 1], or points). Hyperparameters are a pydantic
model, so a suite override with a wrong name or type is caught before any trial starts.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from ganbench.data.base import DatasetInfo

RealSampler = Callable[[], torch.Tensor]


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) with G in eval mode (batch norm on its running statistics), mode restored after."""
    was_training = G.training
    G.eval()
    try:
        return G(z)
    finally:
        G.train(was_training)


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
    d_norm: str = "bn"


class Method(abc.ABC):
    """Base of all methods. Subclasses build their networks in ``__init__``."""

    Params: ClassVar[type[MethodParams]] = MethodParams
    name: ClassVar[str] = ""

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
        merged = {**cls.data_defaults(info), **overrides}
        return cls.Params(**merged).model_dump()

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
