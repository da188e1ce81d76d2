"""FID (Heusel et al. 2017): any two sources, statistics files included."""
from __future__ import annotations

import numpy as np

from gan.errors import UserError
from gan.evaluation import spec
from gan.metrics import fid as fid_lib


def _fid(a, b) -> float:
  """FID between features [N, d] and/or Statistics, by the cheapest form."""
  try:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
      return fid_lib.frechet_distance_from_features(a, b)
    if isinstance(a, np.ndarray):
      return fid_lib.frechet_distance_features_to_statistics(a, b.mu, b.sigma)
    if isinstance(b, np.ndarray):
      return fid_lib.frechet_distance_features_to_statistics(b, a.mu, a.sigma)
    return fid_lib.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
  except ValueError as e:  # E.g. NaN in a statistics file.
    raise UserError(f"cannot compute FID: {e}") from None


def _num(features) -> int | None:
  if isinstance(features, np.ndarray):
    return int(features.shape[0])
  return features.num_samples


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  a, b = inputs.features_a, inputs.features_b
  num_a, num_b = _num(a), _num(b)
  for label, num in (("a", num_a), ("b", num_b)):
    name = inputs.names[label]
    if num is None:
      inputs.warn(f"FID: the statistics file {name} does not record its N; "
                  f"FID depends on N, compare only at equal N")
    elif num < fid_lib.MIN_STABLE_SAMPLES:
      inputs.warn(f"FID with N={num} images in {name} (< "
                  f"{fid_lib.MIN_STABLE_SAMPLES}): the covariance is "
                  f"rank-deficient and FID is biased upward; compare only at "
                  f"equal N, or use KID")
  return [spec.Result("fid", {"value": _fid(a, b), "num_a": num_a,
                              "num_b": num_b})]


def summary(name: str, v: dict) -> str:
  del name
  return f"FID {v['value']:.4f}  (N_a={v['num_a']}, N_b={v['num_b']})"


SPEC = spec.MetricSpec(
    name="fid", help="Frechet Inception Distance", default=True,
    needs=spec.FEATURES_OR_STATISTICS, compute=compute, summary=summary,
    scalars={"value": "fid"})
