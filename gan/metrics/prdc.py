"""Improved precision/recall and density/coverage over feature arrays.

Precision and recall (Kynkaanniemi et al. 2019, k = 3): each set's manifold
is the union of balls around its samples, each ball's radius being the
distance to the sample's k-th nearest neighbour in its own set (the sample
itself excluded). Precision is the share of fake samples inside the real
manifold, recall the share of real samples inside the fake manifold.
Density and coverage (Naeem et al. 2020, k = 5): density is (1/k) times the
mean number of real balls that contain each fake sample (about 1 when both
sets come from one distribution, unbounded above); coverage is the share of
real samples whose ball contains at least one fake sample.

`<` or `<=`. A ball of radius r contains the points at distance d < r by
default (`strict=True`), as the `prdc` package; torch-fidelity's PRC and the
original improved-precision/recall code use d <= r (`strict=False`). The two
differ only on ties, and the tie that happens in practice is an exact
duplicate: when a set holds k + 1 identical samples (blank slices in an MRI
set, a collapsed generator repeating one image) their radius is 0. With `<`
a zero-radius ball is empty, so a generator cannot raise precision by
copying such a sample, nor raise recall by collapsing onto one; with `<=` it
can. We keep `<` so copies of training images never count as quality; the
memorisation audit (`gan.metrics.memorization`) is where copies show up.

All distances are exact float64 Euclidean (see `gan.metrics.distances`):
on the same inputs the values equal `prdc.compute_prdc` (strict) and
torch-fidelity's PRC (`strict=False`).
"""
from __future__ import annotations

from gan.metrics import balls
from gan.metrics import distances

DEFAULT_K_PRECISION_RECALL = 3
DEFAULT_K_DENSITY_COVERAGE = 5


def precision_recall_density_coverage(
    real_features, fake_features,
    k_precision_recall: int = DEFAULT_K_PRECISION_RECALL,
    k_density_coverage: int = DEFAULT_K_DENSITY_COVERAGE,
    strict: bool = True,
    block_size: int = distances.DEFAULT_BLOCK_SIZE) -> dict:
  """Precision, recall, density and coverage of fake vs real features.

  real_features: [N, D], fake_features: [M, D], any float dtype (computed in
  float64); N, M > max(k). `strict`: ball membership is d < r (True) or
  d <= r (False), see the module docstring.
  Returns a dict:
    precision, recall, coverage: float in [0, 1];
    density: float >= 0 (1 for identical distributions, in expectation);
    num_real, num_fake, k_precision_recall, k_density_coverage: int;
    strict: bool.
  """
  real = distances.check_features("real_features", real_features)
  fake = distances.check_features("fake_features", fake_features)
  distances.check_same_dim("real_features", real, "fake_features", fake)
  k_max = max(k_precision_recall, k_density_coverage)
  distances.check_k(k_max, real.shape[0], "real_features", exclude_self=True)
  distances.check_k(k_max, fake.shape[0], "fake_features", exclude_self=True)
  block_size = max(block_size, k_max + distances.CANDIDATE_MARGIN)
  prepared = distances.prepare(real, fake, block_size,
                               min_block=k_max + distances.CANDIDATE_MARGIN)
  ks = sorted({k_precision_recall, k_density_coverage})
  real_radii = distances.kth_neighbour_distances(prepared[0], ks)
  fake_radii = distances.kth_neighbour_distances(prepared[1], ks)
  counts = balls.ball_counts(
      real, fake,
      radii_x=real_radii[k_density_coverage],
      radii_y=fake_radii[k_precision_recall],
      radii_x_any=real_radii[k_precision_recall],
      strict=strict, block_size=block_size, prepared=prepared)
  return dict(
      precision=float(counts["y_in_any_x_ball"].mean()),
      recall=float(counts["x_in_y_balls"].mean()),
      # (1/k) * mean, as prdc: mean / k differs in the last bit for most counts.
      density=float((1.0 / k_density_coverage) * counts["y_in_x_balls"].mean()),
      coverage=float(counts["x_covered"].mean()),
      num_real=int(real.shape[0]), num_fake=int(fake.shape[0]),
      k_precision_recall=int(k_precision_recall),
      k_density_coverage=int(k_density_coverage), strict=bool(strict))


def precision_recall(real_features, fake_features,
                     k: int = DEFAULT_K_PRECISION_RECALL, strict: bool = True,
                     block_size: int = distances.DEFAULT_BLOCK_SIZE) -> dict:
  """Improved precision/recall only: dict(precision, recall, num_real,
  num_fake, k, strict). Shapes and ranges as in
  `precision_recall_density_coverage`."""
  out = precision_recall_density_coverage(real_features, fake_features, k, k,
                                          strict, block_size)
  return dict(precision=out["precision"], recall=out["recall"],
              num_real=out["num_real"], num_fake=out["num_fake"], k=k,
              strict=strict)


def density_coverage(real_features, fake_features,
                     k: int = DEFAULT_K_DENSITY_COVERAGE, strict: bool = True,
                     block_size: int = distances.DEFAULT_BLOCK_SIZE) -> dict:
  """Density/coverage only: dict(density, coverage, num_real, num_fake, k,
  strict). Shapes and ranges as in `precision_recall_density_coverage`."""
  out = precision_recall_density_coverage(real_features, fake_features, k, k,
                                          strict, block_size)
  return dict(density=out["density"], coverage=out["coverage"],
              num_real=out["num_real"], num_fake=out["num_fake"], k=k,
              strict=strict)
