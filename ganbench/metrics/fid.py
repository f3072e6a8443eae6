"""FID: Fréchet distance between TF-Inception pool3 features (Heusel et al. 2017; §5.1).

Generated samples vs ``ctx.reference_size`` real images of the reference split
(``eval.num_reference``, by default ``eval.num_samples``), both through
:class:`~ganbench.metrics.inception.InceptionExtractor` under ``eval.resize`` (clean-fid's
"clean" PIL bicubic by default, or "legacy_tensorflow": TF1 bilinear as TTUR and Lucic et al.
2018; the mode is in the protocol, and FIDs under different modes are not comparable). Meant for
the GPU/full profile: on a CPU the network runs at a few images per second and the 2048×2048
matrix square root takes ~15 s, but it runs. FID is biased upward at small n (TTUR recommends
n >= 10k), so compare values only at equal n; the protocol records n_gen, n_ref and the split.
"""

from __future__ import annotations

from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.frechet import feature_stats, frechet_distance
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.reference import paired_outputs, prepare_reference
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
        fake_out, ref_out, protocol = paired_outputs(InceptionExtractor(resize=ctx.resize), fake, ctx)
        value = frechet_distance(*feature_stats(fake_out["features"]), *feature_stats(ref_out["features"]))
        return {"fid": value}, {**protocol, "implementation": "ganbench.metrics.frechet (clean-fid algebra)"}
