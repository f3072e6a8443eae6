"""``gpus_per_trial: auto`` sized from a trial's measured memory (issue 16 item 4).

The arithmetic with known answers; the probe run on the CPU (peak resident memory as the
reader) on a method whose parameters are large enough that four copies (weights, gradients,
Adam's two moments) must show; the driver's fallback when it has no GPU to probe on.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.dispatch import sized_for_trials
from ganbench.gpu_share import (CONTEXT_BYTES, FALLBACK_SHARE, auto_share, evaluation_resident_bytes, gpu_share,
                                probe_trial_memory)
from ganbench.suite import Resources, load_suite
from tests.conftest import write_suite

GIB = 2**30


def test_share_arithmetic_known_answers():
    # need = 10 GiB x 1.25 + 0.5 GiB = 13 GiB; 80 // 13 = 6 trials; 1/6 = 0.16666.. -> 0.1666
    s = gpu_share(10 * GIB, 80 * GIB, margin=1.25, overhead_bytes=0.5 * GIB)
    assert (s.trials_per_gpu, s.fraction, s.need_bytes) == (6, 0.1666, 13 * GIB)
    assert 6 * s.fraction <= 1.0 and "6 trials per GPU" in s.note and "13.00 GiB of 80 GiB" in s.note
    # 30 GiB exactly, no margin or overhead: 80 // 30 = 2 -> 0.5; 26 GiB: 3 -> 0.3333 (3 x 0.3333 <= 1)
    assert gpu_share(30 * GIB, 80 * GIB, margin=1, overhead_bytes=0).fraction == 0.5
    assert gpu_share(26 * GIB, 80 * GIB, margin=1, overhead_bytes=0).fraction == 0.3333
    # 1 GiB x 1.25 + 0.5 GiB = 1.75 GiB: 80 // 1.75 = 45, capped at 20 -> 0.05
    small = gpu_share(1 * GIB, 80 * GIB, margin=1.25, overhead_bytes=0.5 * GIB)
    assert (small.trials_per_gpu, small.fraction) == (20, 0.05) and "capped at 20" in small.note
    # more than the GPU: one per GPU, said
    big = gpu_share(100 * GIB, 80 * GIB)
    assert (big.trials_per_gpu, big.fraction) == (1, 1.0) and "may run out of memory" in big.note
    # 40 GiB x 1.25 + CONTEXT_BYTES (0.586 GiB) = 50.59 GiB on 141 GiB: 2 trials
    assert gpu_share(40 * GIB, 141 * GIB).trials_per_gpu == 2 and CONTEXT_BYTES == 600 * 2**20
    with pytest.raises(ValueError):
        gpu_share(GIB, 0)


def _spec(tmp_path, text: str):
    return load_suite(write_suite(tmp_path, text)).expand()[0]


def test_evaluation_resident_bytes_known_answer(tmp_path):
    spec = _spec(tmp_path, "name: r\ndatasets: [mnist]\nmethods: [gan]\n"
                 "eval: {metrics: [fid, fcd], num_samples: 10000}\n")
    # 10k MNIST samples in float32: 10000*784*4 = 31,360,000; features of 10k generated + 10k
    # reference: 20000*2048*4 = 163,840,000; covariance, root, product: 3*2048^2*8 = 100,663,296
    assert evaluation_resident_bytes(spec, 784) == 31_360_000 + 163_840_000 + 100_663_296
    spec = _spec(tmp_path, "name: r\ndatasets: [mnist]\nmethods: [gan]\neval: {metrics: [fcd], num_samples: 1000}\n")
    assert evaluation_resident_bytes(spec, 784) == 1000 * 784 * 4
    # memorization and vendi run on the classifier's features (mnist_all's final_metrics): no Inception
    spec = _spec(tmp_path, "name: r\ndatasets: [mnist]\nmethods: [gan]\n"
                 "eval: {metrics: [fcd], final_metrics: [memorization, vendi], num_samples: 1000}\n")
    assert evaluation_resident_bytes(spec, 784) == 1000 * 784 * 4


def test_the_probe_measures_weights_gradients_and_adam_state_on_cpu(tmp_path, one_thread):
    # width 3000: four 3000x3000 float32 matrices (36 MB each, above glibc's largest mmap
    # threshold, so each copy is fresh resident memory) in G and D together
    spec = _spec(tmp_path, "name: p\ndatasets: [ring8]\nmethods: [gan]\nparams: {width: 3000}\n"
                 "train: {iterations: 10, batch_size: 16, eval_every: 10}\n"
                 "eval: {metrics: [modes], num_samples: 64, reference: train}\n")
    big = 4 * 3000 * 3000 * 4
    measured = probe_trial_memory(spec, "cpu") - evaluation_resident_bytes(spec, 2)
    # weights + gradients + exp_avg + exp_avg_sq after two Adam steps: >= 4 copies of the big
    # matrices (a probe without the steps would show one or two); Adam's foreach temporaries
    # add some (5.7 copies measured here), well under 10
    assert 0.95 * 4 * big <= measured <= 10 * big, measured / big


@pytest.mark.skipif(torch.cuda.is_available(), reason="the no-GPU fallback")
def test_without_a_gpu_in_the_driver_auto_falls_back_to_a_half_with_a_note(tmp_path, capsys):
    spec = _spec(tmp_path, "name: f\ndatasets: [ring8]\nmethods: [gan]\neval: {metrics: [modes], reference: train}\n")
    share = auto_share([spec])
    assert share.fraction == FALLBACK_SHARE and "sees no GPU" in share.note
    per_trial = sized_for_trials({"cpu": 1.0, "gpu": 0.5}, Resources(), [spec])
    assert per_trial == {"cpu": 1.0, "gpu": 0.5} and "gpus_per_trial auto = 0.5" in capsys.readouterr().err
    events = []
    sized_for_trials({"cpu": 1.0, "gpu": 0.5}, Resources(), [spec], lambda e, info: events.append((e, info)))
    assert events and events[0][0] == "prepare" and "sees no GPU" in events[0][1]["what"]
    # a share given in the suite, or a cluster without GPUs: left alone, no probe
    given = sized_for_trials({"cpu": 1.0, "gpu": 0.25}, Resources(gpus_per_trial=0.25), [spec])
    none = sized_for_trials({"cpu": 1.0, "gpu": 0.0}, Resources(), [spec])
    assert given["gpu"] == 0.25 and none["gpu"] == 0.0 and capsys.readouterr().err == ""
