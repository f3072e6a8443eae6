"""A testing hook: inject a fault into chosen trials of a real suite run.

``GANBENCH_FAULT_INJECT`` holds comma-separated entries ``<selector>:<kind>:<iteration>``:

* ``selector`` picks trials: a trial id (or a prefix of at least 6 characters), a method
  name or label, or a glob over the trial's display name ``label/dataset/seedN`` (for
  example ``hinge/ring8/seed1`` or ``*/seed0``);
* ``kind`` is ``raise`` (a RuntimeError), ``nan`` (a non-finite loss: the trial diverges),
  ``oom`` (``torch.cuda.OutOfMemoryError``), or ``raise_once`` / ``oom_once``, which fire
  on the first attempt only (a transient fault: the retry resumes from the checkpoint and
  finishes; a marker file in the trial folder remembers the first attempt);
* ``iteration``: the fault fires right after training iteration ``iteration``.

The driver reads the variable when it builds the :class:`~ganbench.trial.TrialContext`,
so the plan travels to Ray workers with the context. It exists for tests and for
rehearsing a cluster's failure handling; it never changes a run without the variable.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ganbench.errors import GanbenchError
from ganbench.spec import TrialSpec

ENV_VAR = "GANBENCH_FAULT_INJECT"
KINDS = ("raise", "raise_once", "nan", "oom", "oom_once")


class InjectedFault(RuntimeError):
    """The error raised by a ``raise`` fault."""


@dataclass(frozen=True)
class Fault:
    selector: str
    kind: str
    iteration: int

    def matches(self, spec: TrialSpec) -> bool:
        sel = self.selector
        if len(sel) >= 6 and spec.trial_id.startswith(sel):
            return True
        return sel in (spec.method, spec.label) or fnmatch.fnmatchcase(spec.display, sel)


def parse_plan(text: str | None) -> list[Fault]:
    """Parse the variable's value; a malformed entry is a one-line error."""
    faults = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.rsplit(":", 2)
        if len(parts) != 3 or parts[1] not in KINDS or not parts[2].isdigit():
            raise GanbenchError(f"{ENV_VAR}: expected <selector>:<kind>:<iteration> with kind one of "
                                f"{', '.join(KINDS)}, got {entry!r}")
        faults.append(Fault(parts[0], parts[1], int(parts[2])))
    return faults


def fault_for(plan: str | None, spec: TrialSpec) -> Fault | None:
    return next((f for f in parse_plan(plan) if f.matches(spec)), None)


def inject(step: Callable, fault: Fault, get_iteration: Callable[[], int], folder: Path) -> Callable:
    """Wrap a method's ``step`` so that ``fault`` fires after iteration ``fault.iteration``."""
    marker = Path(folder) / f".fault_{fault.kind}_fired"
    if fault.kind.endswith("_once") and marker.exists():
        return step

    def faulty_step(next_real):
        losses = step(next_real)
        if get_iteration() < fault.iteration:
            return losses
        if fault.kind == "nan":
            return {**losses, "loss_g": math.nan}
        if fault.kind.endswith("_once"):
            marker.write_text(str(get_iteration()))
        if fault.kind.startswith("oom"):
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (injected at iteration {get_iteration()})")
        raise InjectedFault(f"injected fault at iteration {get_iteration()}")

    return faulty_step
