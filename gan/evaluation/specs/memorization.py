"""Memorisation audit: each generated sample's distance to its nearest
training sample over that sample's own nearest-neighbour radius; the closest
pairs are drawn side by side."""
from __future__ import annotations

from gan import pixels
from gan import plots
from gan.evaluation import spec
from gan.metrics import memorization as memorization_lib

OPTIONS = (
    spec.Option("memorization_shown", memorization_lib.DEFAULT_NUM_SHOWN,
                "memorization: closest pairs in the PNG."),
)


def check_counts(o, counts: spec.Counts) -> None:
  del o
  for side in "ab":
    counts.need("memorization", side, 2)


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  r = memorization_lib.memorization_audit(
      inputs.features_a, inputs.features_b,
      num_shown=inputs.options.memorization_shown)
  keys = ["median_ratio", "min_ratio", "num_generated", "num_training"] + [
      k for k in r if k.startswith("fraction_below_")]
  values = {k: r[k] for k in keys}
  values["closest"] = [
      {"generated": int(g), "training": int(r["nearest_training_index"][g]),
       "ratio": float(r["ratio"][g])} for g in r["closest_generated"]]
  a, b = inputs.images_a, inputs.images_b

  def draw(path):
    plots.plot_memorization(r, pixels.to_float(a), pixels.to_float(b), path)
  return [spec.Result("memorization", values,
                      draw=draw if a is not None and b is not None else None)]


def summary(name: str, v: dict) -> str:
  del name
  below = "  ".join(f"<{k[len('fraction_below_'):]}: {x:.3f}"
                    for k, x in v.items() if k.startswith("fraction_below_"))
  return (f"memorization median ratio {v['median_ratio']:.4f}  min "
          f"{v['min_ratio']:.4f}  share {below}  (N_a={v['num_generated']}, "
          f"N_b={v['num_training']})")


SPEC = spec.MetricSpec(
    name="memorization", help="memorisation audit", needs=spec.FEATURES,
    compute=compute, summary=summary, options=OPTIONS,
    check_counts=check_counts,
    scalars={"median_ratio": "memorization_median_ratio",
             "fraction_below_0.5": "memorization_fraction_below_0.5"},
    keeps_images=lambda plotting: frozenset("ab") if plotting else frozenset())
