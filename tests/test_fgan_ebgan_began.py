"""f-GAN, EBGAN and BEGAN: losses against hand-worked numbers, which nets each sub-step moves,
short training runs through the Trainer, and BEGAN's convergence measure in the evaluations."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pandas as pd
import pydantic
import pytest
import torch

from ganbench.data.toy2d import Ring8
from ganbench.methods import began, ebgan, fgan
from ganbench.registry import METHODS, load_builtins
from ganbench.train import Trainer
from tests.conftest import record_optimizer_steps

load_builtins()
INFO = Ring8.info
DIVERGENCES = ["kl", "reverse_kl", "pearson", "squared_hellinger", "js", "gan", "neyman"]
LOG2 = math.log(2.0)


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread, as in trials: tiny nets on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _method(name: str, **overrides):
    cls = METHODS.get(name)
    return cls(cls.Params(**cls.resolve_params({"width": 8, **overrides}, INFO)), INFO)


# ----------------------------------------------------------------------------- f-GAN
# f*(t) at two points each, worked out from the closed forms of the table by hand
CONJUGATE_POINTS = {
    "kl": [(0.0, math.exp(-1.0)), (1.0, 1.0)],                      # exp(t − 1)
    "reverse_kl": [(-1.0, -1.0), (-0.5, -1.0 + LOG2)],              # −1 − log(−t)
    "pearson": [(2.0, 3.0), (-2.0, -1.0)],                          # t²/4 + t
    "squared_hellinger": [(0.5, 1.0), (-1.0, -0.5)],                # t / (1 − t)
    "js": [(0.0, 0.0), (math.log(1.5), LOG2)],                      # −log(2 − e^t)
    "gan": [(math.log(0.5), LOG2), (math.log(0.75), math.log(4.0))],  # −log(1 − e^t)
    "neyman": [(0.75, 1.0), (-3.0, -2.0)],                          # 2 − 2√(1 − t)
}

# f of Table 1, for an independent numerical Legendre transform f*(t) = sup_u (u t − f(u))
GENERATORS = {
    "kl": lambda u: u * np.log(u),
    "reverse_kl": lambda u: -np.log(u),
    "pearson": lambda u: (u - 1.0) ** 2,
    "squared_hellinger": lambda u: (np.sqrt(u) - 1.0) ** 2,
    "js": lambda u: u * np.log(u) - (u + 1.0) * np.log((u + 1.0) / 2.0),
    "gan": lambda u: u * np.log(u) - (u + 1.0) * np.log(u + 1.0),
    "neyman": lambda u: (1.0 - u) ** 2 / u,
}
# dom f* per divergence: (low, high), open bounds
DOMAINS = {"kl": (-math.inf, math.inf), "reverse_kl": (-math.inf, 0.0), "pearson": (-math.inf, math.inf),
           "squared_hellinger": (-math.inf, 1.0), "js": (-math.inf, LOG2), "gan": (-math.inf, 0.0),
           "neyman": (-math.inf, 1.0)}


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_conjugates_at_two_points_and_by_legendre_transform(divergence):
    for t, expected in CONJUGATE_POINTS[divergence]:
        got = float(fgan.conjugate(divergence, torch.tensor(t, dtype=torch.float64)))
        assert got == pytest.approx(expected, abs=1e-9)
        u = np.linspace(1e-4, 60.0, 600_001)
        assert np.max(u * t - GENERATORS[divergence](u)) == pytest.approx(expected, abs=2e-3)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_activation_stays_in_dom_conjugate(divergence):
    v = torch.linspace(-30.0, 30.0, 601, dtype=torch.float64)
    t = fgan.activation(divergence, v)
    low, high = DOMAINS[divergence]
    assert bool(((t > low) & (t < high)).all())
    # the stable closed form in v equals f* composed with g_f wherever both are accurate
    mid = torch.linspace(-5.0, 5.0, 41, dtype=torch.float64)
    assert torch.allclose(fgan.conjugate_of_activation(divergence, mid),
                          fgan.conjugate(divergence, fgan.activation(divergence, mid)), atol=1e-9)
    assert torch.isfinite(fgan.conjugate_of_activation(divergence, v)).all()


def test_fgan_with_the_gan_divergence_is_the_non_saturating_gan():
    from ganbench.methods import gan

    real, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([-0.7, 0.1])
    assert float(fgan.discriminator_loss("gan", real, fake)) == pytest.approx(float(gan.discriminator_loss(real, fake)))
    assert float(fgan.generator_loss("gan", fake)) == pytest.approx(float(gan.generator_loss(fake)))


def test_fgan_losses_on_tiny_logits_by_hand():
    zero = torch.zeros(1)
    # gan: g(0) = −log 2, f*(g(0)) = softplus(0) = log 2
    assert float(fgan.discriminator_loss("gan", zero, zero)) == pytest.approx(2 * LOG2)
    assert float(fgan.generator_loss("gan", zero)) == pytest.approx(LOG2)
    # kl: g(v) = v, f*(t) = e^{t−1}: −(mean(1, 2) − e^0) = −0.5; G: −1
    assert float(fgan.discriminator_loss("kl", torch.tensor([1.0, 2.0]), torch.tensor([1.0]))) == pytest.approx(-0.5)
    assert float(fgan.generator_loss("kl", torch.tensor([1.0]))) == pytest.approx(-1.0)
    # pearson: −(2 − ((−2)²/4 − 2)) = −3; G: −(−2) = 2
    assert float(fgan.discriminator_loss("pearson", torch.tensor([2.0]), torch.tensor([-2.0]))) == pytest.approx(-3.0)
    assert float(fgan.generator_loss("pearson", torch.tensor([-2.0]))) == pytest.approx(2.0)
    # reverse_kl at v = 0: g = −1, f*(−1) = −1 → −(−1 − (−1)) = 0; G: 1
    assert float(fgan.discriminator_loss("reverse_kl", zero, zero)) == pytest.approx(0.0)
    assert float(fgan.generator_loss("reverse_kl", zero)) == pytest.approx(1.0)
    with pytest.raises(pydantic.ValidationError, match="divergence"):
        METHODS.get("fgan").Params(divergence="hellinger")


# ----------------------------------------------------------------------------- EBGAN
def test_pulling_away_term_of_three_vectors_by_hand():
    # cos²: (e1, e2) = 0, (e1, e1+e2) = (e2, e1+e2) = 1/2; ordered pairs: 2·(0 + ½ + ½) / (3·2) = 1/3
    codes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert float(ebgan.pulling_away_term(codes)) == pytest.approx(1.0 / 3.0)
    assert float(ebgan.pulling_away_term(codes * torch.tensor([[2.0], [3.0], [5.0]]))) == pytest.approx(1.0 / 3.0)
    assert float(ebgan.pulling_away_term(torch.tensor([[1.0, 2.0], [-2.0, -4.0]]))) == pytest.approx(1.0)


def test_ebgan_losses_with_margin_by_hand():
    x = torch.zeros(1, 1, 2, 2)
    recon = torch.tensor([[[[1.0, -1.0], [2.0, 0.0]]]])
    assert ebgan.reconstruction_energy(x, recon, reduction="sum").tolist() == [6.0]      # 1 + 1 + 4
    assert ebgan.reconstruction_energy(x, recon).tolist() == [1.5]                       # 6 / 4 pixels
    assert ebgan.reconstruction_energy(x, recon, power=1, reduction="mean").tolist() == [1.0]
    e_real, e_fake = torch.tensor([1.0, 3.0]), torch.tensor([4.0, 12.0])
    # 2 + mean([10 − 4]⁺, [10 − 12]⁺) = 2 + 3
    assert float(ebgan.discriminator_loss(e_real, e_fake, 10.0)) == pytest.approx(5.0)
    codes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert float(ebgan.generator_loss(e_fake, codes, 0.1)) == pytest.approx(8.0 + 0.1 / 3.0)
    for key, value in (("pack", 2), ("minibatch_std", True)):
        with pytest.raises(pydantic.ValidationError, match=f"does not support {key}"):
            METHODS.get("ebgan").resolve_params({key: value}, INFO)


# ----------------------------------------------------------------------------- BEGAN
def _t(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float64)


def test_began_k_update_clipping_and_convergence_measure_by_hand():
    # + 0.001·(0.1 − 0.05)
    assert float(began.k_update(_t(0.5), _t(0.2), _t(0.05), 0.5, 0.001)) == pytest.approx(0.50005)
    assert float(began.k_update(_t(0.0), _t(0.2), _t(0.3), 0.5, 0.001)) == 0.0     # −0.0002 clipped at 0
    assert float(began.k_update(_t(0.9999), _t(1.0), _t(0.0), 0.5, 0.001)) == 1.0  # 1.0004 clipped at 1
    assert float(began.convergence_measure(_t(0.2), _t(0.05), 0.5)) == pytest.approx(0.25)  # 0.2 + |0.1 − 0.05|
    assert float(began.convergence_measure(_t(0.2), _t(0.3), 0.5)) == pytest.approx(0.4)    # 0.2 + |0.1 − 0.3|
    assert float(began.discriminator_loss(torch.tensor(0.2), torch.tensor(0.05), 0.5)) == pytest.approx(0.175)
    # a float64 k is used in the losses' float32: 0.2 − float32(0.5)·0.05, a float32 result
    loss = began.discriminator_loss(torch.tensor(0.2), torch.tensor(0.05), _t(0.5))
    assert loss.dtype == torch.float32 and float(loss) == pytest.approx(0.175)


def test_began_step_updates_k_from_its_own_losses_and_resumes_exactly():
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    m = _method("began", k_0=0.3, lambda_k=0.01)
    stats = m.step(lambda: data[:16])
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 and not v.requires_grad for v in stats.values())
    # k and M by hand in Python floats (the float64 arithmetic the method runs on the device)
    l_real, l_fake = float(stats["l_real"]), float(stats["loss_g"])
    expected_k = min(1.0, max(0.0, 0.3 + 0.01 * (0.5 * l_real - l_fake)))
    assert isinstance(m.k, torch.Tensor) and m.k.dtype == torch.float64 and float(m.k) == expected_k
    assert float(stats["k"]) == 0.3  # the D step used k_0
    assert float(stats["m"]) == l_real + abs(0.5 * l_real - l_fake)
    m.step(lambda: data[16:32])
    state = m.state_dict()
    assert isinstance(state["extra"]["k"], float)  # checkpoints keep Python floats
    other = _method("began", k_0=0.3, lambda_k=0.01)
    other.load_state_dict(state)
    assert float(other.k) == float(m.k) and other.progress_values() == m.progress_values()
    assert m.progress_values() == {}  # the window restarts after each read


# ----------------------------------------------------------------------------- the loop
@pytest.mark.parametrize("name,overrides,d_steps", [
    ("fgan", {"divergence": "kl"}, 1), ("ebgan", {}, 1), ("ebgan", {"n_critic": 2}, 2), ("began", {}, 1)])
def test_sub_steps_move_only_their_network(name, overrides, d_steps):
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    method = _method(name, **overrides)
    log = record_optimizer_steps(method)
    draws = []

    def next_real():
        draws.append(1)
        return data[torch.randint(len(data), (16,))]

    method.step(next_real)
    assert log == [("D", {"D"})] * d_steps + [("G", {"G"})]
    assert len(draws) == d_steps and method.iteration == 1


def _train(method, iterations, log):
    data = Ring8().load_split("test")[0]

    def evaluate(m):
        return {"mean_x": float(m.sample(64, torch.Generator().manual_seed(0))[:, 0].mean())}, {"toy": {"n": 64}}

    def on_eval(step, elapsed, values, protocol, losses):
        log.append((step, values, protocol, losses))

    return Trainer(method, data, 16, iterations, 100, evaluate, on_eval).run()


@pytest.mark.parametrize("name,overrides", [("fgan", {}), ("fgan", {"divergence": "neyman"}),
                                            ("ebgan", {}), ("began", {})])
def test_trains_200_steps_with_finite_losses(name, overrides):
    torch.manual_seed(1)
    log: list = []
    result = _train(_method(name, **overrides), 200, log)
    assert result.status == "finished" and result.last_step == 200
    assert [s for s, *_ in log] == [100, 200]
    assert all(math.isfinite(v) for *_, losses in log for v in losses.values())
    if name == "began":
        for _, values, protocol, losses in log:
            assert 0.0 < values["began_m"] < 10.0
            assert protocol["began_m"]["direction"] == "min" and protocol["began_m"]["source"] == "method"
    else:
        assert all(set(values) == {"mean_x"} for _, values, *_ in log)


def test_began_m_reaches_evals_results_csv_and_stays_out_of_the_table(tmp_path):
    from ganbench.metrics.evaluate import value_directions
    from ganbench.report.build import build_report, method_progress_keys
    from ganbench.report.collect import collect
    from ganbench.suite import load_suite
    from ganbench.trial import TrialContext, train_trial
    from tests.conftest import write_suite

    suite = write_suite(tmp_path, textwrap.dedent("""\
        name: tiny_began
        datasets: [ring8]
        methods: [began]
        params: {width: 8}
        seeds: [0]
        train: {iterations: 10, batch_size: 16, eval_every: 5}
        eval: {metrics: [modes], num_samples: 100, reference: train}
        resources: {cpus_per_trial: 1, gpus_per_trial: 0}
    """))
    ctx = TrialContext("tiny_began", str(tmp_path / "tiny_began"))
    (spec,) = load_suite(suite).expand()
    assert train_trial(spec, ctx)["status"] == "finished"
    lines = (tmp_path / "tiny_began" / "trials" / spec.trial_id / "evals.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [5, 10]
    assert all(r["values"]["began_m"] > 0 and r["protocol"]["began_m"]["method"] == "began" for r in records)

    build_report(tmp_path / "tiny_began", value_directions())
    csv = pd.read_csv(tmp_path / "tiny_began" / "results.csv")
    assert csv["began_m"].tolist() == [r["values"]["began_m"] for r in records]
    tables = (tmp_path / "tiny_began" / "tables.md").read_text()
    assert "began_m" not in tables and "modes" in tables
    assert (tmp_path / "tiny_began" / "plots" / "ring8_began_m.png").exists()
    assert method_progress_keys(collect(tmp_path / "tiny_began")) == {"began_m": "min"}  # the plot's direction


@pytest.mark.parametrize("shape,norm", [((1, 28, 28), "bn"), ((3, 32, 32), "spectral"), ((1, 64, 64), "layer"),
                                        ((2,), "none"), ((2,), "spectral")])
def test_auto_encoders_reconstruct_the_input_shape(shape, norm):
    from ganbench.registry import NETS

    net = NETS.get("conv_ae" if len(shape) == 3 else "mlp_ae")(shape, width=4, code_dim=5, norm=norm, act="elu")
    x = torch.rand(3, *shape) * 2 - 1
    recon, code = net(x)
    assert recon.shape == x.shape and code.shape == (3, 5)
    spectral = [m for m in net.modules() if hasattr(m, "weight_orig")]
    n_layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))]
    assert len(spectral) == (len(n_layers) if norm == "spectral" else 0)


def test_auto_encoder_gans_sample_from_the_ema_generator_when_asked():
    torch.manual_seed(0)
    data = Ring8().load_split("test")[0]
    m = _method("began", ema_g=0.5)
    before = [p.detach().clone() for p in m.G.parameters()]
    m.step(lambda: data[:16])
    for avg, old, new in zip(m.ema.module.parameters(), before, m.G.parameters()):
        assert torch.allclose(avg, 0.5 * old + 0.5 * new)
    assert "G_ema" in m.state_dict()["modules"]
    z = m.prior(4, torch.Generator().manual_seed(1))
    assert torch.equal(m.sample(4, torch.Generator().manual_seed(1)), m.ema.module.eval()(z))
