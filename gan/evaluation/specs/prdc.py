"""Improved precision/recall (Kynkaanniemi et al. 2019) and density/coverage
(Naeem et al. 2020), as the `prdc` package computes them."""
from __future__ import annotations

from gan.errors import UserError
from gan.evaluation import spec
from gan.metrics import prdc as prdc_lib

OPTIONS = (
    spec.Option("pr_k", prdc_lib.DEFAULT_K_PRECISION_RECALL,
                "prdc: k of improved precision/recall."),
    spec.Option("dc_k", prdc_lib.DEFAULT_K_DENSITY_COVERAGE,
                "prdc: k of density/coverage."),
)


def validate(o) -> None:
  if min(o.pr_k, o.dc_k) < 1:
    raise UserError(f"prdc needs k >= 1, got --pr_k={o.pr_k} "
                    f"--dc_k={o.dc_k}; use the defaults 3 and 5")


def check_counts(o, counts: spec.Counts) -> None:
  for side in "ab":  # k neighbours exclude the sample itself.
    counts.need("prdc", side, max(o.pr_k, o.dc_k) + 1,
                f" or a smaller --pr_k/--dc_k (now {o.pr_k}/{o.dc_k}; k "
                f"neighbours exclude the sample itself)")


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  o = inputs.options
  r = prdc_lib.precision_recall_density_coverage(
      inputs.features_b, inputs.features_a, k_precision_recall=o.pr_k,
      k_density_coverage=o.dc_k)
  return [spec.Result("prdc", dict(r))]


def summary(name: str, v: dict) -> str:
  del name
  return (f"precision {v['precision']:.4f}  recall {v['recall']:.4f}  "
          f"(k={v['k_precision_recall']})  density {v['density']:.4f}  "
          f"coverage {v['coverage']:.4f}  (k={v['k_density_coverage']}; "
          f"N_a={v['num_fake']}, N_b={v['num_real']})")


SPEC = spec.MetricSpec(
    name="prdc", help="precision, recall, density, coverage",
    needs=spec.FEATURES, compute=compute, summary=summary, options=OPTIONS,
    validate=validate, check_counts=check_counts,
    scalars={"precision": "precision", "recall": "recall",
             "density": "density", "coverage": "coverage"})
