"""Hyperparameter sweeps: search spaces, searchers, schedulers, the sweep driver and its outputs."""
