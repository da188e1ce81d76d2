"""Inception Score (Salimans et al. 2016) of each source with images
(`is_a`, `is_b`), from the Inception logits (torch-fidelity's splits)."""
from __future__ import annotations

from gan.evaluation import spec
from gan.metrics import inception_score as is_lib

OPTIONS = (
    spec.Option("is_splits", is_lib.DEFAULT_NUM_SPLITS,
                "Inception Score splits."),
    spec.Option("is_seed", is_lib.DEFAULT_SEED,
                "Seed of the IS shuffle (torch-fidelity's rng_seed)."),
)


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  o = inputs.options
  out = []
  for label, logits in sorted(inputs.logits.items()):
    if logits.shape[0] < o.is_splits:
      inputs.warn(f"IS of {inputs.names[label]} skipped: {logits.shape[0]} "
                  f"images for {o.is_splits} splits")
      continue
    score = is_lib.inception_score(logits, num_splits=o.is_splits,
                                   seed=o.is_seed)
    out.append(spec.Result(f"is_{label}", {
        "mean": score.mean, "std": score.std, "splits": score.num_splits,
        "seed": o.is_seed, "num": int(logits.shape[0])}))
  return out


def summary(name: str, v: dict) -> str:
  return (f"IS({name[-1]}) {v['mean']:.4f} ± {v['std']:.4f}  (N={v['num']}, "
          f"{v['splits']} splits)")


SPEC = spec.MetricSpec(
    name="is", help="Inception Score", default=True, needs=spec.LOGITS,
    compute=compute, summary=summary, options=OPTIONS,
    scalars={"mean": "{name}_mean", "std": "{name}_std"},
    results=("is_a", "is_b"))
