"""CrossLID (Barua et al. 2019): LID of real samples among generated ones.

For each real sample x, the maximum-likelihood estimate of the local
intrinsic dimensionality (Levina-Bickel, Amsaleg et al.) is taken with its
neighbourhood among *generated* samples:

  LID(x) = -( (1/k) sum_{i=1..k} ln(r_i / r_k) )^-1

where r_1 <= ... <= r_k are the distances from x to its k nearest generated
samples. CrossLID is the mean over real samples; lower is better (generated
samples lie on the real manifold at the right density), and it grows under
mode collapse.

Batching follows the reference: the real samples are taken in order in
batches of `batch_size`; for each batch a fresh subset of `batch_size`
generated samples is drawn without replacement (all of them when there are
fewer) and the neighbours are searched in that subset. Defaults are the
reference's k = 100, batch_size = 1000.

The reference's off-by-one. The reference code keeps `sorted[:, 0:k-1]`, i.e.
only k - 1 neighbour distances, and applies the formula with k - 1 in place
of k (so its "k = 100" is an MLE over 99 neighbours). It also adds 1e-10 to
every distance and again to r_k in the denominator. We use the k nearest
neighbours, as the formula and the paper say, and add `epsilon` = 1e-10 to
every distance once (so exact duplicates give a finite LID).
`reference_off_by_one=True` reproduces the reference arithmetic exactly,
for comparison with published numbers. Distances are exact float64
(`gan.metrics.distances`).
"""
from __future__ import annotations

import numpy as np

from gan.errors import UserError
from gan.metrics import distances

DEFAULT_K = 100
DEFAULT_BATCH_SIZE = 1000
EPSILON = 1e-10


def mle_lid(neighbour_distances: np.ndarray, epsilon: float = EPSILON,
            reference_off_by_one: bool = False) -> np.ndarray:
  """MLE LID per row from ascending neighbour distances.

  neighbour_distances: [N, k] float, ascending along axis 1, >= 0.
  Returns [N] float64 > 0 (inf when all k distances are equal).
  With `reference_off_by_one`, uses the first k - 1 columns the way the
  CrossLID reference code does.
  """
  d = np.asarray(neighbour_distances, np.float64)
  if reference_off_by_one:
    d = d[:, :-1] + epsilon
    logs = np.log(d / (d[:, -1:] + epsilon))
  else:
    d = d + epsilon
    logs = np.log(d / d[:, -1:])
  with np.errstate(divide="ignore"):
    return -d.shape[1] / logs.sum(axis=1)


def cross_lid(real_features, fake_features, k: int = DEFAULT_K,
              batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
              reference_off_by_one: bool = False,
              block_size: int = distances.DEFAULT_BLOCK_SIZE) -> dict:
  """CrossLID of real features with neighbourhoods among fake features.

  real_features: [N, D], fake_features: [M, D] (any float; float64 inside).
  k: neighbours per real sample, <= min(batch_size, M).
  seed: the generated subsets are drawn with np.random.RandomState(seed).
  Returns a dict:
    cross_lid: float > 0, mean LID over real samples (lower is better);
    std: float, population std of the per-sample LIDs;
    lid: [N] float64 per real sample;
    k, batch_size, subset_size, num_real, num_fake: int;
    reference_off_by_one: bool.
  """
  real = distances.check_features("real_features", real_features)
  fake = distances.check_features("fake_features", fake_features)
  distances.check_same_dim("real_features", real, "fake_features", fake)
  if batch_size < 1:
    raise UserError(f"CrossLID batch_size must be positive, got {batch_size}; "
                    f"use the default {DEFAULT_BATCH_SIZE}")
  subset = min(batch_size, fake.shape[0])
  if k < 2 or subset < k:
    raise UserError(
        f"CrossLID with k={k} needs at least {max(k, 2)} generated samples per "
        f"batch but has {subset}; generate more samples or lower k "
        f"(reference k={DEFAULT_K})")
  rng = np.random.RandomState(seed)
  lids = []
  for start in range(0, real.shape[0], batch_size):
    chosen = rng.choice(fake.shape[0], subset, replace=False)
    dist, _ = distances.nearest_neighbours(
        real[start:start + batch_size], fake[chosen], k=k,
        block_size=block_size)
    lids.append(mle_lid(dist, reference_off_by_one=reference_off_by_one))
  lid = np.concatenate(lids)
  return dict(cross_lid=float(lid.mean()), std=float(lid.std()), lid=lid, k=k,
              batch_size=batch_size, subset_size=subset,
              num_real=int(real.shape[0]), num_fake=int(fake.shape[0]),
              reference_off_by_one=bool(reference_off_by_one))
