"""Reporting: results folder -> DataFrame -> tables (Markdown, LaTeX) and plots (PNG and PDF).

The public names are imported lazily, so ``import ganbench.report.collect`` does not pay
for seaborn and matplotlib. (``collect`` is both a submodule and its function, so
import it as ``from ganbench.report.collect import collect``.)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_report": "build",
    "final_rows": "collect",
    "caption_for": "tables",
    "render_latex": "tables",
    "render_markdown": "tables",
    "render_reproduction_latex": "tables",
    "render_reproduction_markdown": "tables",
    "make_plots": "plots",
    "method_display": "names",
    "key_display": "names",
    "compare_to_best": "significance",
    "PublishedValue": "published",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"ganbench.report.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ganbench.report' has no attribute {name!r}")
