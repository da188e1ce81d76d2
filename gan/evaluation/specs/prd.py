"""Precision and recall for distributions (Sajjadi et al. 2018): F_8, F_1/8
and the PRD curve (plotted)."""
from __future__ import annotations

from gan import plots
from gan.errors import UserError
from gan.evaluation import spec
from gan.metrics import prd as prd_lib

OPTIONS = (
    spec.Option("prd_clusters", prd_lib.DEFAULT_NUM_CLUSTERS,
                "prd: k-means clusters."),
    spec.Option("prd_runs", prd_lib.DEFAULT_NUM_RUNS,
                "prd: clusterings averaged."),
)


def check_counts(o, counts: spec.Counts) -> None:
  if counts.num_a is not None and counts.num_b is not None:
    if counts.num_a + counts.num_b < o.prd_clusters:
      raise UserError(f"prd with {o.prd_clusters} clusters needs at least "
                      f"that many images in both sources together, has "
                      f"{counts.num_a + counts.num_b}; use more images or a "
                      f"smaller --prd_clusters")


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  o = inputs.options
  r = prd_lib.prd(inputs.features_b, inputs.features_a,
                  num_clusters=o.prd_clusters, num_runs=o.prd_runs,
                  seed=o.seed)
  curve = {inputs.short_a: (r["precision"], r["recall"])}
  return [spec.Result(
      "prd", {k: v for k, v in r.items() if k not in ("precision", "recall")},
      draw=lambda path: plots.plot_prd(curve, path))]


def summary(name: str, v: dict) -> str:
  del name
  return (f"PRD F_8 {v['f_8']:.4f}  F_1/8 {v['f_1_8']:.4f}  "
          f"({v['num_clusters']} clusters, {v['num_runs']} runs; "
          f"N_a={v['num_fake']}, N_b={v['num_real']})")


SPEC = spec.MetricSpec(
    name="prd", help="precision and recall for distributions",
    needs=spec.FEATURES, compute=compute, summary=summary, options=OPTIONS,
    check_counts=check_counts, scalars={"f_8": "prd_f_8",
                                        "f_1_8": "prd_f_1_8"})
