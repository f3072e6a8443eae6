"""benchmarks/gpu_check.py runs on a CPU with tiny sizes and prints every section's numbers."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_tiny_on_cpu(one_thread, tmp_path, capsys, monkeypatch):
    import torch

    from ganbench.metrics import reference

    gpu_check = _load()
    monkeypatch.setattr(reference, "cache_dir", reference.cache_dir)  # the script swaps it; undo after
    monkeypatch.setattr(torch.nn.Module, "compile", torch.nn.Module.compile)  # likewise the backend patch
    try:
        out = gpu_check.main(["--tiny", "--device", "cpu", "--n", "4", "--iters", "2", "--warm", "1",
                              "--compile-backend", "aot_eager",
                              "--out", str(tmp_path / "g.json")])
    finally:
        reference.clear_memory_cache()
        torch._dynamo.reset()
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "g.json").read_text())
    for section in ("step", "fid_kid_vs_torch_fidelity", "evaluation_split", "floors"):
        assert "error" not in out[section], out[section]
    step = out["step"]
    for key in ("ganbench_eager", "hand_eager", "ganbench_compiled", "hand_compiled"):
        assert step[key]["it_per_s"] > 0
    assert step["ganbench_compiled"]["compiled"] and step["hand_compiled"]["compiled"]
    assert step["ratio_eager"] > 0 and step["ratio_compiled_vs_hand_eager"] > 0
    fk = out["fid_kid_vs_torch_fidelity"]
    assert fk["ganbench"]["fid"] > 0 and fk["ganbench"]["n_ref"] == 4
    if isinstance(fk["torch_fidelity"], dict):  # installed here: same images, same pipeline
        assert fk["fid_relative_difference"] < 1e-3
    split = out["evaluation_split"]
    assert set(split["seconds"]) == {"generate", "resize", "inception", "statistics"}
    assert math.isfinite(split["fid"])
    for mode in ("clean", "legacy_tensorflow"):
        assert out["floors"][mode]["fid"] > 0 and out["floors"][mode]["n_ref"] == 4
    assert out["floors"]["clean"]["fid"] != out["floors"]["legacy_tensorflow"]["fid"]
    assert set(out["goals"]) >= {"step_eager_ge_0.85x_hand", "fid_within_1e-3_of_torch_fidelity"}
