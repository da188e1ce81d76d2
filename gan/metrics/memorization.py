"""Memorisation audit: is each generated image closer to a training image
than real images are to each other?

For generated sample g with nearest training sample t(g) (Euclidean, in
feature space or on flattened pixels):

  ratio(g) = d(g, t(g)) / d(t(g), nearest other training sample)

A ratio well below 1 means g sits closer to a training image than that
image's own nearest real neighbour: a likely copy. A training image with a
duplicate in the training set has radius 0; then ratio is 0 when g is an
exact copy and inf otherwise. Distances are exact float64
(`gan.metrics.distances`).
"""
from __future__ import annotations

import numpy as np

from gan.errors import UserError
from gan.metrics import distances

DEFAULT_THRESHOLDS = (0.1, 0.5, 1.0)
DEFAULT_NUM_SHOWN = 8


def _flatten(name, x):
  x = np.asarray(x)
  if x.ndim < 2:
    raise UserError(f"{name} must be [N, ...] features or images, got shape "
                    f"{x.shape}; stack the samples along axis 0")
  return x.reshape(x.shape[0], -1)


def memorization_audit(generated, training,
                       thresholds=DEFAULT_THRESHOLDS,
                       num_shown: int = DEFAULT_NUM_SHOWN,
                       block_size: int = distances.DEFAULT_BLOCK_SIZE) -> dict:
  """Nearest-training-neighbour ratios of generated samples.

  generated: [M, ...] features (or images, flattened), training: [N, ...]
  of the same trailing size; N >= 2.
  (`gan.plots.plot_memorization` draws the `num_shown` closest pairs.)
  Returns a dict:
    ratio: [M] float64 >= 0; nearest_training_index: [M] int64;
    nearest_training_distance: [M] float64; training_radius: [M] float64
    (that training sample's distance to its nearest other training sample);
    median_ratio, min_ratio: float;
    fraction_below_{t}: float in [0, 1] for each threshold t (e.g.
    fraction_below_0.5);
    closest_generated: [num_shown] int64, generated indices by ascending ratio;
    num_generated, num_training: int.
  """
  gen = distances.check_features("generated", _flatten("generated", generated))
  train = distances.check_features("training", _flatten("training", training),
                                   min_rows=2)
  distances.check_same_dim("generated", gen, "training", train)
  nn_dist, nn_idx = distances.nearest_neighbours(gen, train, k=1,
                                                 block_size=block_size)
  train_radius, _ = distances.nearest_neighbours(train, k=1,
                                                 block_size=block_size)
  nn_dist, nn_idx = nn_dist[:, 0], nn_idx[:, 0]
  radius = train_radius[nn_idx, 0]
  with np.errstate(divide="ignore", invalid="ignore"):
    ratio = np.where(radius > 0, nn_dist / np.where(radius > 0, radius, 1),
                     np.where(nn_dist == 0, 0.0, np.inf))
  order = np.argsort(ratio, kind="stable")[:num_shown]
  out = dict(ratio=ratio, nearest_training_index=nn_idx,
             nearest_training_distance=nn_dist, training_radius=radius,
             median_ratio=float(np.median(ratio)), min_ratio=float(ratio.min()),
             closest_generated=order, num_generated=int(gen.shape[0]),
             num_training=int(train.shape[0]))
  for t in thresholds:
    out[f"fraction_below_{t:g}"] = float(np.mean(ratio < t))
  return out
