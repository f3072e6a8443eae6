"""Metrics, one module each, registered in :data:`ganbench.registry.METRICS`."""
