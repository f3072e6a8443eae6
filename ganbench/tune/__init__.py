"""Hyperparameter sweeps: search spaces, searchers, schedulers, the sweep driver and its outputs.

- :mod:`.settings`: the suite's ``tune:`` block (schema and semantic checks);
- :mod:`.space`: spaces, coupled coordinates, conversions to Ray/Optuna, PBT perturbation;
- :mod:`.searchers`: random, Optuna multivariate TPE, coordinate (one parameter at a time);
- :mod:`.schedulers`: FIFO, ASHA, PBT;
- :mod:`.trainables`: what one search trial runs in a Tune worker;
- :mod:`.sweep`: one Tuner per (row, dataset, searcher), resume, trials.jsonl and sweep.json,
  the Lucic et al. 2018 re-runs;
- :mod:`.outputs` and its helpers: best.yaml, tuned-vs-default table, budget curves,
  heatmaps, importances.
"""
