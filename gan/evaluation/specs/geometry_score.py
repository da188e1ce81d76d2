"""Geometry Score (Khrulkov & Oseledets 2018): topology of the two feature
sets by mean relative living times of their 1-d holes (plotted)."""
from __future__ import annotations

from gan import plots
from gan.evaluation import spec
from gan.metrics import geometry_score as geometry_lib

OPTIONS = (
    # Training evaluates with 100 draws (the reference's 1000 take minutes).
    spec.Option("gs_runs", geometry_lib.DEFAULT_NUM_RUNS,
                "geometry_score: landmark draws.", config_default=100),
    spec.Option("gs_landmarks", geometry_lib.DEFAULT_NUM_LANDMARKS,
                "geometry_score: landmarks per draw."),
)


def check_counts(o, counts: spec.Counts) -> None:
  del o
  for side in "ab":
    counts.need("geometry_score", side, 2)


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  o = inputs.options
  r = geometry_lib.geometry_score(
      inputs.features_b, inputs.features_a, num_runs=o.gs_runs,
      num_landmarks=o.gs_landmarks, seed=o.seed)
  mrlts = {"real": r["mrlt_real"], "generated": r["mrlt_fake"]}
  return [spec.Result(
      "geometry_score",
      {k: v for k, v in r.items() if k not in ("mrlt_real", "mrlt_fake")},
      draw=lambda path: plots.plot_mrlt(mrlts, path))]


def summary(name: str, v: dict) -> str:
  del name
  return (f"Geometry Score {v['geometry_score']:.6f}  (x1000 = "
          f"{v['geometry_score_x1000']:.3f}; {v['num_runs']} runs of "
          f"{v['num_landmarks']} landmarks; N_a={v['num_fake']}, "
          f"N_b={v['num_real']})")


SPEC = spec.MetricSpec(
    name="geometry_score", help="Geometry Score", needs=spec.FEATURES,
    compute=compute, summary=summary, options=OPTIONS,
    check_counts=check_counts, scalars={"geometry_score": "geometry_score"})
