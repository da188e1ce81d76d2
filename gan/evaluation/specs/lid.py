"""CrossLID (Barua et al. 2019): local intrinsic dimensionality of the real
samples among the generated ones (lower is better)."""
from __future__ import annotations

from gan.errors import UserError
from gan.evaluation import spec
from gan.metrics import lid as lid_lib

OPTIONS = (
    spec.Option("lid_k", lid_lib.DEFAULT_K, "lid: neighbours per real sample."),
    spec.Option("lid_batch_size", lid_lib.DEFAULT_BATCH_SIZE,
                "lid: batch (and generated subset) size."),
)


def validate(o) -> None:
  if o.lid_k < 2:
    raise UserError(f"lid needs --lid_k >= 2, got {o.lid_k}; use the "
                    f"reference's {lid_lib.DEFAULT_K} or fewer for small sets")


def check_counts(o, counts: spec.Counts) -> None:
  # Neighbours of source_b's samples among source_a's.
  counts.need("lid", "a", o.lid_k, f" or a smaller --lid_k (now {o.lid_k})")


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  o = inputs.options
  r = lid_lib.cross_lid(inputs.features_b, inputs.features_a, k=o.lid_k,
                        batch_size=o.lid_batch_size, seed=o.seed)
  return [spec.Result("lid", {k: v for k, v in r.items() if k != "lid"})]


def summary(name: str, v: dict) -> str:
  del name
  return (f"CrossLID {v['cross_lid']:.4f} ± {v['std']:.4f}  (k={v['k']}, "
          f"subsets of {v['subset_size']}; N_a={v['num_fake']}, "
          f"N_b={v['num_real']})")


SPEC = spec.MetricSpec(
    name="lid", help="cross local intrinsic dimensionality",
    needs=spec.FEATURES, compute=compute, summary=summary, options=OPTIONS,
    validate=validate, check_counts=check_counts,
    scalars={"cross_lid": "cross_lid"})
