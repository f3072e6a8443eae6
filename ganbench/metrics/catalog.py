"""Imports every metric module of ganbench so that its ``@METRICS.register`` takes effect.

:func:`ganbench.registry.load_builtins` now also imports every module of this package by
itself; this list keeps the metric set explicit for readers and for code that imports it.
"""

from ganbench.metrics import cis, classes, fcd, fid, kid, modes  # noqa: F401
