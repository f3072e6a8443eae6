"""GN-GAN: "Improving GAN with Neighbors Embedding and Gradient Matching" (Tran, Bui, Cheung,
AAAI 2019, arXiv 1811.01333).

No official GN-GAN code was ever released: the authors' repository (tntrung/gan) holds only
Dist-GAN code and announces GN-GAN as "update soon". ganbench follows the GN-GAN student report
(a French course report on the paper; the authority for GN-GAN's formulas) and its Algorithm 1, and
takes everything the report leaves open from Dist-GAN's official code (tntrung/gan; see
:mod:`ganbench.methods.distgan`), GN-GAN's predecessor by the same authors. Per iteration:

  x <- mini-batch of m data points;  z <- m samples of P_z = U(−1, 1)^d
  1. E, G <- min V_AE(E, G) = ‖x − G(E(x))‖² + λ_r · V_R(E, G)
        V_R = KL(P ‖ Q), Student-t affinities of the latent batch z (P) and of G(z) (Q)
        (:mod:`ganbench.methods.neighbors_embedding`, σ² = variance of the batch's distances)
  2. D <- max V_D(D, G) = (1 − α) E log D(x) + α E log D(G(E(x))) + E log(1 − D(G(z))) − λ_p V_P
        V_P: Dist-GAN's penalty, RMS slope of the logit on interpolates
        (:func:`ganbench.methods.distgan.distgan_penalty`), λ_p = 1
  3. G <- min V_G(D, G) = |E σD(x) − E σD(G(z))| + λ_m1 ‖E ∇D(x) − E ∇D(G(z))‖²
                                              + λ_m2 |E ∇D(x)ᵀx − E ∇D(G(z))ᵀG(z)|²
        (:mod:`ganbench.methods.gradient_matching`; ``matching: norm`` is the report's
        "pour plus de stabilité" variant with E‖∇D‖ and E|∇Dᵀx|)
Algorithm 1 uses the same x and z for the three steps (only the first D step when
``n_critic`` > 1; later ones draw fresh batches).

Hyperparameters: ``preset: paper`` (the defaults) or ``preset: report`` (the report's tuned
MNIST values: lr_e = lr_g = lr_d = 1.5e-4, α = 0.06); an explicitly given parameter wins over
the preset. Defaults and their status:
- lr 2e-4, β = (0.5, 0.9), one D step, three Adams (AE step, G, D): Dist-GAN's DCGAN setting,
  UNVERIFIED for GN-GAN. Points: the Dist-GAN toy settings (lr 1e-3, β = (0.8, 0.999),
  λ_p = λ_r = 0.1, 5 D steps), UNVERIFIED for GN-GAN, and ``matching: norm`` (measured: see
  "2D investigation" below).
- λ_p = 1 (Dist-GAN; UNVERIFIED for GN-GAN); λ_r = 1 (Dist-GAN's weight of its own
  regulariser R_reg; UNVERIFIED for V_R).
- α = 0.05: Dist-GAN's weight of reconstructions in D's loss; the paper's value is UNVERIFIED
  (the report's tuned value is 0.06; the report notes raising it because D was too strong).
- λ_m1 = λ_m2 = 1.0: UNVERIFIED (neither the report nor any code gives them; order-1 constants).

ganbench choices where the report is silent (each also a parameter where it matters):
- V_R's latent batch is the prior sample z and its G(z) (``ne_batch: prior``): the report
  defines V_R on "z" and "G(z)". P then has no gradient and V_R trains G only, although the
  report writes V_R(E, G). A third-party reimplementation concatenates z with E(x) (and G(z)
  with G(E(x))), which lets V_R reach E too: ``ne_batch: prior_and_encoded``.
- ‖x − G(E(x))‖² is the mean squared error over the batch and every pixel (the Dist-GAN code's
  ``reduce_mean`` convention), not the per-sample sum, which would weigh it 784× more than
  V_R on MNIST. It is measured in data space, as the report writes it (Dist-GAN uses D's
  features), and Dist-GAN's R_reg is dropped (the report's V_AE has only V_R).
- ∇D is the input gradient of the probability D = σ(l) (the report's D; ``score: logit``
  uses the logit). V_D's α is constant: the report gives no schedule (Dist-GAN decays it).
- Prior U(−1, 1)^d as Dist-GAN; d = 100 on MNIST. Data in [−1, 1], G ends in tanh
  (Dist-GAN: [0, 1] and a sigmoid output).
- ``loss: hinge`` (Dist-GAN's hinge, as intended: penalty added, hinge on logits) is offered
  for parity with Dist-GAN; the report uses the log loss.

2D investigation (grid25 / ring8)
---------------------------------
Symptom: with Dist-GAN's toy settings and the matching terms of report Eq. (1), GN-GAN put
almost all of its samples off the 25 grid modes, some as far as 16–54 from the origin (the
data lie within ‖x‖ ≤ 5.7). Looked at with the diagnostics of ``benchmarks/gngan_grid25.py``
(earlier runs at 500–2,500 iterations, 3 seeds): V_R's batch (``ne_batch: prior_and_encoded``
keeps the far samples: not the cause), the encoder's coverage of the prior (samples are off
the data both near E's image and away from it), the missing latent–data distance term (not
needed: without the matching terms every sample stays near the data), and the matching form.
The cause is Eq. (1)'s *expectation* form: it matches means of signed vectors, E ∇D and
E ∇Dᵀx. The grid is symmetric about the origin, so the real side's E ∇D(x) is ≈ 0, a target
that samples where σ(l) is saturated (∇σ(l) ≈ 0, far from the data) meet too, and opposite
deviations cancel (the test
``test_expectation_matching_is_blind_to_samples_spread_symmetrically_far_from_the_data``
shows the exact case). D then separates the far samples confidently (mean σD 0.85 on data,
0.13 on G(z)). The report's stability variant (``matching: norm``: E‖∇D‖, E|∇Dᵀx|) matches
positive quantities that saturated samples cannot match, and keeps every sample near the data.

Change: GN-GAN's point defaults (:meth:`GNGAN.data_defaults`, ``info.kind == "points"``) add
``matching: norm``. Images keep Eq. (1): the report, the authority for the image setting,
writes Eq. (1) and mentions the norm form as what was done "en pratique ... pour plus de
stabilité", and no image run has compared the two here. Give ``matching: expectation`` to get
the former 2D behaviour (``suites/repro/gngan_2d.yaml`` keeps it as the row "GN-GAN (Eq. 1)").

Measured: 3,000 iterations, batch 128, Dist-GAN's toy settings, 2,500 samples, 3σ rule
(VEEGAN/PacGAN mode metric), mean ± std over seeds 0, 1, 2 (max ‖G(z)‖ per seed in brackets):

  data    variant                      modes covered  high-quality   max ‖G(z)‖
  grid25  GN-GAN expectation (before)   9.7 ±  5.5  0.008 ± 0.005  26.6 ± 12.4  (23.9, 40.0, 15.8)
  grid25  GN-GAN norm (after)          19.7 ±  2.1  0.064 ± 0.024   6.4 ±  0.2  (6.3, 6.3, 6.6)
  grid25  GN-GAN, λ_m1 = λ_m2 = 0      18.0 ±  8.9  0.084 ± 0.061   6.3 ±  0.1  (6.4, 6.1, 6.3)
  grid25  Dist-GAN (reference)         21.0 ±  6.1  0.221 ± 0.179   6.2 ±  0.2  (6.4, 6.3, 5.9)
  ring8   GN-GAN expectation (before)   7.3 ±  1.2  0.315 ± 0.156   1.1 ±  0.0  (1.1, 1.1, 1.1)
  ring8   GN-GAN norm (after)           7.7 ±  0.6  0.359 ± 0.139   1.1 ±  0.0  (1.1, 1.1, 1.0)
  ring8   GN-GAN, λ_m1 = λ_m2 = 0       7.3 ±  0.6  0.219 ± 0.198   1.2 ±  0.1  (1.1, 1.3, 1.1)
  ring8   Dist-GAN (reference)          8.0 ±  0.0  0.540 ± 0.165   1.1 ±  0.0  (1.0, 1.1, 1.1)

  python benchmarks/gngan_grid25.py --dataset grid25 --iterations 3000 --batch 128 \
      --seeds 0,1,2 --variant expectation:matching=expectation --variant norm:matching=norm \
      --variant none:lambda_m1=0,lambda_m2=0
  python benchmarks/gngan_grid25.py --dataset grid25 --method distgan --iterations 3000 \
      --batch 128 --seeds 0,1,2                      (and the same with --dataset ring8)

On grid25 the norm form doubles the modes covered (per seed 18–22 against 6–16) and removes
the far samples; with no matching at all the samples also stay near the data, but the modes
vary more over seeds (8–25). On ring8 (radius 1, std 0.01) the expectation form never left
the data and the forms do not differ beyond the spread over seeds. Dist-GAN, at the same
length, covers as many modes and puts more samples on them (high-quality 0.22 on grid25,
0.54 on ring8): with these 2D defaults (λ_m, α, λ_r UNVERIFIED, untuned) GN-GAN does not
beat its predecessor here. All rows still leave most grid25 samples between the modes after
3,000 iterations: under-training, not this failure (the Dist-GAN toy code trains ≈ 195,000
iterations).
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from ganbench.data.base import DatasetInfo
from ganbench.methods.distgan import AutoEncodingGAN, AutoEncodingGANParams
from ganbench.methods.gradient_matching import gradient_matching_loss
from ganbench.methods.neighbors_embedding import neighbors_embedding_kl
from ganbench.registry import METHODS

#: named sets of values, applied by :meth:`GNGAN.resolve_params` unless explicitly overridden
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # the student report's tuned MNIST values: "learning rates (tous égaux à 0.00015)", "α = 0.06"
    "report": {"lr_e": 1.5e-4, "lr_g": 1.5e-4, "lr_d": 1.5e-4, "alpha": 0.06},
}


class GNGANParams(AutoEncodingGANParams):
    preset: Literal["paper", "report"] = "paper"
    #: weight of reconstructions counted as real in V_D (UNVERIFIED; Dist-GAN code 0.05)
    alpha: float = 0.05
    #: gradient-matching weights (UNVERIFIED)
    lambda_m1: float = 1.0
    lambda_m2: float = 1.0
    #: form of the matching terms: report Eq. (1) ("expectation", the default for images) or the
    #: report's stability variant ("norm", the default for 2D points; see "2D investigation")
    matching: Literal["expectation", "norm"] = "expectation"
    #: the function whose input gradient is matched: σ(l) (report's D) or the logit l
    score: Literal["prob", "logit"] = "prob"
    #: V_R's batch: prior z only, or z and E(x) concatenated (third-party variant)
    ne_batch: Literal["prior", "prior_and_encoded"] = "prior"


@METHODS.register("gngan")
class GNGAN(AutoEncodingGAN):
    name = "gngan"
    paper = "Tran et al. 2019, Improving GAN with Neighbors Embedding and Gradient Matching"
    Params = GNGANParams
    fresh_batches = False  # Algorithm 1: one x, one z per iteration

    @classmethod
    def data_defaults(cls, info: DatasetInfo) -> dict[str, Any]:
        """Dist-GAN's toy settings for points, plus ``matching: norm`` (see "2D investigation")."""
        defaults = super().data_defaults(info)
        if info.kind == "points":
            defaults["matching"] = "norm"
        return defaults

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any], info: DatasetInfo) -> dict[str, Any]:
        """Defaults <- data defaults <- preset values <- explicit overrides, fully concrete."""
        name = overrides.get("preset", GNGANParams.model_fields["preset"].default)
        preset = PRESETS.get(name, {}) if isinstance(name, str) else {}  # unknown: validation says so
        return super().resolve_params({**preset, **overrides}, info)  # data defaults < preset < overrides

    def recon_weight(self) -> float:
        return self.params.alpha

    def ae_loss(self, x, z):
        """V_AE = ‖x − G(E(x))‖² + λ_r V_R (step 1)."""
        ze = self.E(x)
        recon = self.G(ze)
        fake = self.G(z)
        rec = (x - recon).pow(2).mean()
        if self.params.ne_batch == "prior":
            v_r = neighbors_embedding_kl(z, fake)
        else:
            v_r = neighbors_embedding_kl(torch.cat([z, ze]), torch.cat([fake, recon]))
        return rec + self.params.lambda_r * v_r, {"ae_rec": rec.detach(), "v_r": v_r.detach()}

    def g_loss(self, x, z):
        """V_G with gradient matching (step 3)."""
        p = self.params
        return gradient_matching_loss(self.D, x, self.G(z), p.lambda_m1, p.lambda_m2, p.matching, p.score)
