"""Search spaces in their YAML form, coupled coordinates, and their conversions.

A space is a plain dict, one key per search coordinate, each with exactly one kind::

    {"lr": {"loguniform": [1e-5, 1e-3]}, "log_ratio_d": {"uniform": [-1.0, 1.0]},
     "n_critic": {"int": [1, 5]}, "matching": {"choice": ["expectation", "norm"]}}

Coupled coordinates (the GN-GAN report's lesson: the learning rates "must move together")
reparametrise a group of method parameters by one base coordinate and log-ratios::

    coupled: {base: lr, targets: {lr_g: 0.0, lr_d: log_ratio_d, lr_e: log_ratio_e}}

means ``lr_g = lr``, ``lr_d = lr * exp(log_ratio_d)``, ``lr_e = lr * exp(log_ratio_e)`` (a target
is a fixed log-ratio number or the name of a coordinate). A searcher then moves the group
along ``lr`` while keeping the ratios, which a one-parameter-at-a-time search cannot do.

Conversions: :func:`ray_domains` (Ray Tune sample domains), :func:`optuna_distributions`
(Optuna distributions, for importances), :func:`expand` (coordinates -> method parameters),
:func:`default_coords` (the method's defaults seen as coordinates), :func:`coordinate_grid`
(values of one coordinate for the coordinate searcher) and :func:`perturb` (PBT explore step).
"""

from __future__ import annotations

import math
import random
from typing import Any

KINDS = ("loguniform", "uniform", "int", "choice")
#: a coupled target is at most e^20 (~5e8) times its base: beyond that it is a typo, not a ratio
MAX_LOG_RATIO = 20.0


class SpaceError(ValueError):
    """A malformed space: ``path`` is the key path below ``tune.`` and ``what`` says why."""

    def __init__(self, path: str, what: str):
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_coordinate(name: str, spec: Any, path: str) -> None:
    """Validate one coordinate's ``{kind: bounds}`` mapping (raises :class:`SpaceError`)."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        got = list(spec) if isinstance(spec, dict) else spec
        raise SpaceError(path, f"expected one of {', '.join(KINDS)}, got {got!r}")
    kind, bounds = next(iter(spec.items()))
    where = f"{path}.{kind}"
    if kind == "choice":
        if not isinstance(bounds, list) or not bounds:
            raise SpaceError(where, f"expected a non-empty list of values, got {bounds!r}")
        if len({repr(b) for b in bounds}) != len(bounds):
            raise SpaceError(where, f"repeated value in {bounds!r}")
        return
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_number(b) for b in bounds):
        raise SpaceError(where, f"expected [low, high] numbers, got {bounds!r}")
    low, high = bounds
    if kind == "int" and not all(float(b).is_integer() for b in bounds):
        raise SpaceError(where, f"expected [low, high] integers, got {bounds!r}")
    if not low < high:
        raise SpaceError(where, f"expected low < high, got {bounds!r}")
    if kind == "loguniform" and low <= 0:
        raise SpaceError(where, f"expected positive bounds for a log scale, got {bounds!r}")


def check_space(space: Any, path: str) -> None:
    if not isinstance(space, dict) or not space:
        raise SpaceError(path, f"expected a non-empty mapping of coordinates, got {space!r}")
    for name, spec in space.items():
        check_coordinate(name, spec, f"{path}.{name}")


def check_coupled(coupled: Any, space: dict[str, Any], path: str) -> None:
    """``{base: coordinate, targets: {param: number | coordinate}}`` against its row's space."""
    if not isinstance(coupled, dict) or set(coupled) != {"base", "targets"}:
        raise SpaceError(path, f"expected a mapping with keys base and targets, got {coupled!r}")
    base, targets = coupled["base"], coupled["targets"]
    if base not in space:
        raise SpaceError(f"{path}.base", f"{base!r} is not a coordinate of the space")
    if next(iter(space[base])) not in ("loguniform", "uniform"):
        raise SpaceError(f"{path}.base", f"{base!r} must be loguniform or uniform")
    if not isinstance(targets, dict) or not targets:
        raise SpaceError(f"{path}.targets", f"expected a non-empty mapping of parameters, got {targets!r}")
    for target, ratio in targets.items():
        if _is_number(ratio):
            if abs(ratio) > MAX_LOG_RATIO:
                raise SpaceError(f"{path}.targets.{target}",
                                 f"expected a log-ratio within ±{MAX_LOG_RATIO:g}, got {ratio!r}")
            continue
        if not isinstance(ratio, str) or ratio not in space:
            raise SpaceError(f"{path}.targets.{target}",
                             f"expected a number or a coordinate of the space, got {ratio!r}")
        kind, bounds = next(iter(space[ratio].items()))
        if kind not in ("uniform", "loguniform"):
            raise SpaceError(f"{path}.targets.{target}", f"log-ratio {ratio!r} must be uniform or loguniform")
        if max(abs(b) for b in bounds) > MAX_LOG_RATIO:
            raise SpaceError(f"tune.space.{path.split('.')[-1]}.{ratio}.{kind}",
                             f"expected a log-ratio within ±{MAX_LOG_RATIO:g}, got {bounds!r}")


def coupling_coordinates(coupled: dict[str, Any] | None) -> set[str]:
    """The coordinates that are not method parameters: the base and the named log-ratios."""
    if not coupled:
        return set()
    return {coupled["base"], *(r for r in coupled["targets"].values() if isinstance(r, str))}


def expand(coords: dict[str, Any], coupled: dict[str, Any] | None) -> dict[str, Any]:
    """Search coordinates -> method hyperparameters (coupled targets expanded)."""
    used = coupling_coordinates(coupled)
    config = {k: _plain(v) for k, v in coords.items() if k not in used}
    if coupled:
        base = float(coords[coupled["base"]])
        for target, ratio in coupled["targets"].items():
            log_ratio = float(ratio) if _is_number(ratio) else float(coords[ratio])
            config[target] = base * math.exp(log_ratio)
    return config


def _plain(value: Any) -> Any:
    """NumPy scalars (Optuna, Ray) as Python numbers, so configs serialise to JSON and YAML."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value


def ray_domains(space: dict[str, Any]) -> dict[str, Any]:
    """The Ray Tune sample domains of a space (``int`` bounds are inclusive)."""
    from ray import tune

    out = {}
    for name, spec in space.items():
        kind, b = next(iter(spec.items()))
        if kind == "loguniform":
            out[name] = tune.loguniform(float(b[0]), float(b[1]))
        elif kind == "uniform":
            out[name] = tune.uniform(float(b[0]), float(b[1]))
        elif kind == "int":
            out[name] = tune.randint(int(b[0]), int(b[1]) + 1)
        else:
            out[name] = tune.choice(list(b))
    return out


def optuna_distributions(space: dict[str, Any]) -> dict[str, Any]:
    """The Optuna distributions of a space (for ``optuna.importance`` on finished trials)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, spec in space.items():
        kind, b = next(iter(spec.items()))
        if kind == "loguniform":
            out[name] = FloatDistribution(float(b[0]), float(b[1]), log=True)
        elif kind == "uniform":
            out[name] = FloatDistribution(float(b[0]), float(b[1]))
        elif kind == "int":
            out[name] = IntDistribution(int(b[0]), int(b[1]))
        else:
            out[name] = CategoricalDistribution(list(b))
    return out


def _clip(spec: dict[str, Any], value: Any) -> Any:
    kind, b = next(iter(spec.items()))
    if kind == "choice":
        return value if value in b else b[0]
    value = min(max(value, b[0]), b[1])
    return int(round(value)) if kind == "int" else float(value)


def default_coords(space: dict[str, Any], coupled: dict[str, Any] | None,
                   defaults: dict[str, Any]) -> dict[str, Any]:
    """The method's defaults written as coordinates (clipped into the space).

    The base is read from a target with a fixed log-ratio (``lr_g: 0.0`` gives ``lr = lr_g``),
    or from the first target; each named log-ratio is ``log(default_target / base)``.
    """
    coords: dict[str, Any] = {}
    if coupled:
        targets = coupled["targets"]
        fixed = [(t, float(r)) for t, r in targets.items() if _is_number(r)]
        anchor, anchor_ratio = fixed[0] if fixed else (next(iter(targets)), 0.0)
        base = float(defaults[anchor]) / math.exp(anchor_ratio)
        coords[coupled["base"]] = _clip(space[coupled["base"]], base)
        for target, ratio in targets.items():
            if isinstance(ratio, str) and base > 0 and float(defaults[target]) > 0:
                coords[ratio] = _clip(space[ratio], math.log(float(defaults[target]) / base))
    for name, spec in space.items():
        if name in coords:
            continue
        if name in defaults and defaults[name] is not None:
            coords[name] = _clip(spec, defaults[name])
        else:  # a log-ratio whose target has no usable default: the middle of its range
            kind, b = next(iter(spec.items()))
            coords[name] = b[0] if kind == "choice" else _clip(spec, (b[0] + b[1]) / 2)
    return {name: coords[name] for name in space}


def coordinate_grid(spec: dict[str, Any], n: int) -> list[Any]:
    """``n`` values spanning one coordinate (geometric for loguniform; all choices)."""
    kind, b = next(iter(spec.items()))
    if kind == "choice":
        return list(b)
    n = max(2, n)
    if kind == "loguniform":
        lo, hi = math.log(b[0]), math.log(b[1])
        return [math.exp(lo + (hi - lo) * i / (n - 1)) for i in range(n)]
    values = [b[0] + (b[1] - b[0]) * i / (n - 1) for i in range(n)]
    if kind == "int":
        return sorted({int(round(v)) for v in values})
    return values


def perturb(coords: dict[str, Any], space: dict[str, Any], coupled: dict[str, Any] | None,
            rng: random.Random, factors: tuple[float, float] = (0.8, 1.25),
            resample_probability: float = 0.25) -> dict[str, Any]:
    """PBT's explore step (Jaderberg et al. 2017, §3: perturb by 0.8 or 1.2).

    The coupled group moves with ONE shared multiplier on its base coordinate: every coupled
    learning rate is scaled by the same factor and the log-ratios stay put. Other coordinates
    are perturbed one by one: log-scale ones by a factor, linear ones by ±(factor − 1)·range,
    integers by ±1, choices resampled with ``resample_probability``; all clipped to the space.
    """
    out = dict(coords)
    group = coupling_coordinates(coupled)
    if coupled:
        base = coupled["base"]
        out[base] = _clip(space[base], float(coords[base]) * rng.choice(factors))
    for name, spec in space.items():
        if name in group:
            continue
        kind, b = next(iter(spec.items()))
        if kind == "choice":
            if rng.random() < resample_probability:
                out[name] = rng.choice(list(b))
        elif kind == "loguniform":
            out[name] = _clip(spec, float(coords[name]) * rng.choice(factors))
        elif kind == "uniform":
            step = (b[1] - b[0]) * abs(rng.choice(factors) - 1.0)
            out[name] = _clip(spec, float(coords[name]) + rng.choice((-step, step)))
        else:
            out[name] = _clip(spec, int(coords[name]) + rng.choice((-1, 1)))
    return out
