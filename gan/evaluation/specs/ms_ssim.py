"""MS-SSIM diversity of source_a (Odena et al. 2017): mean MS-SSIM of random
pairs of its images (lower: more diverse); no network."""
from __future__ import annotations

from gan import pixels
from gan.evaluation import spec
from gan.metrics import ms_ssim as ms_ssim_lib

OPTIONS = (
    spec.Option("ms_ssim_pairs", ms_ssim_lib.DEFAULT_NUM_PAIRS,
                "ms_ssim: random pairs of source_a."),
)


def check_counts(o, counts: spec.Counts) -> None:
  del o
  counts.need("ms_ssim", "a", 2)


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  r = ms_ssim_lib.ms_ssim_diversity(pixels.to_float(inputs.images_a),
                                    num_pairs=inputs.options.ms_ssim_pairs,
                                    seed=inputs.options.seed)
  return [spec.Result("ms_ssim", dict(r))]


def summary(name: str, v: dict) -> str:
  del name
  return (f"MS-SSIM diversity(a) {v['ms_ssim']:.4f} ± {v['std']:.4f}  "
          f"({v['num_pairs']} pairs of N={v['num_images']}, window "
          f"{v['window_size']})")


SPEC = spec.MetricSpec(
    name="ms_ssim", help="MS-SSIM diversity", needs=spec.IMAGES_A,
    compute=compute, summary=summary, options=OPTIONS,
    check_counts=check_counts, scalars={"ms_ssim": "ms_ssim"},
    keeps_images=lambda plotting: frozenset("a"))
