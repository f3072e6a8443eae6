"""ganbench: benchmark GANs fairly, and evaluate any generator (``ganbench.evaluate``).

``import ganbench`` stays light (no torch): :func:`evaluate` imports the evaluation code on
its first call.
"""

__version__ = '0.1.0'


def evaluate(samples_or_generator, dataset, metrics=None, n=None, device=None, **kwargs):
    """Metrics of generated images against a dataset: :func:`ganbench.api.evaluate` (see there
    and docs/evaluate.md)."""
    from ganbench.api import evaluate as _evaluate

    return _evaluate(samples_or_generator, dataset=dataset, metrics=metrics, n=n, device=device, **kwargs)


__all__ = ["__version__", "evaluate"]
