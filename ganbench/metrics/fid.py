"""FID: Fréchet distance between TF-Inception pool3 features (Heusel et al. 2017; §5.1).

Generated samples vs ``ctx.reference_size`` real images of the reference split
(``eval.num_reference``, by default ``eval.num_samples``), both through
:class:`~ganbench.metrics.inception.InceptionExtractor` under ``eval.resize`` (clean-fid's
"clean" PIL bicubic by default, or "legacy_tensorflow": TF1 bilinear as TTUR and Lucic et al.
2018; the mode is in the protocol, and FIDs under different modes are not comparable). Meant for
the GPU/full profile: on a CPU the network runs at a few images per second, but it runs.

The Fréchet distance takes the trace of the matrix square root through a symmetric
eigendecomposition (:mod:`ganbench.metrics.frechet`; equal to the SciPy ``sqrtm`` route of
clean-fid to 1e-6 relative where that is well-conditioned, finite where it is not), in float64
on the evaluation device, with the reference's mean, covariance and Σ^{1/2} computed once per
protocol (:func:`~ganbench.metrics.reference.reference_statistics`). FID is biased upward at
small n (TTUR recommends n >= 10k), so compare values only at equal n; the protocol records
n_gen, n_ref and the split, and a one-line ``warning`` when n < 2048 (singular covariances;
``fid_inf`` removes the 1/n bias).
"""

from __future__ import annotations

from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.frechet import frechet_distance_to_reference, small_n_warning
from ganbench.metrics.inception import FEATURE_DIM, InceptionExtractor, note_cpu_cost
from ganbench.metrics.reference import prepare_reference, reference_statistics
from ganbench.registry import METRICS


@METRICS.register("fid")
class FID(Metric):
    name = "fid"
    outputs = {"fid": LOWER}
    kinds = frozenset({"image"})
    summary = ("Fréchet Inception distance (TF-Inception 2015-12-05, eval.resize: clean | legacy_tensorflow); "
               "GPU/full profile")

    def prepare(self, ctx: EvalContext) -> None:
        note_cpu_cost("fid", ctx)
        prepare_reference(InceptionExtractor(resize=ctx.resize), ctx)

    def compute(self, fake, ctx: EvalContext):
        extractor = InceptionExtractor(resize=ctx.resize)
        ref = reference_statistics(extractor, ctx)
        feats = extract_shared(extractor, fake, ctx.device)["features"]
        value = frechet_distance_to_reference(feats, ref.mu, ref.sigma, ref.root)
        protocol = {"n_gen": int(len(fake)), **ref.protocol,
                    "implementation": "ganbench.metrics.frechet (eigendecomposition route; clean-fid algebra)"}
        warning = small_n_warning(len(feats), ref.n, FEATURE_DIM)
        if warning:
            protocol["warning"] = warning
        return {"fid": value}, protocol
