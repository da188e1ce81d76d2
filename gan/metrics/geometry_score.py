"""Geometry Score (Khrulkov & Oseledets 2018): topology of two feature sets.

For one feature set X [N, D] and one draw of L_0 = 64 landmarks (sampled
with replacement), the witness complex (gudhi) with every sample as a witness
is built up to the filtration value alpha_max = gamma * max_{w,l} d(w, l);
its H1 persistence intervals (coefficients in Z/2) give, for each number of
holes i, the relative living time RLT(i): the share of [0, alpha_max] during
which exactly i one-dimensional holes exist (intervals still alive at
alpha_max are cut there). The mean over `num_runs` landmark draws is the
MRLT [i_max]; the score of two sets is

  GS = sum_i (MRLT_1(i) - MRLT_2(i))^2        (lower is better, >= 0).

Defaults are the reference's: L_0 = 64, i_max = 100, gamma = 1/128 scaled by
N / 5000 (each set its own N), and the reference uses 1000 runs (`num_runs`,
default 1000 here too; use fewer for a quick look). piq reports 1000 x GS;
`geometry_score_x1000` gives that number. As in the reference (and piq) the
landmark table passed to gudhi holds plain Euclidean distances, not squared
ones, and alpha_max is compared with them directly.

The witness-to-landmark distance tables of all runs are computed in JAX
(float64); gudhi builds the complexes and their persistence.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gan.errors import UserError
from gan.metrics import distances

DEFAULT_NUM_LANDMARKS = 64
DEFAULT_I_MAX = 100
DEFAULT_NUM_RUNS = 1000
DEFAULT_GAMMA = 1.0 / 128


def _gudhi():
  try:
    import gudhi
  except ImportError as e:
    raise UserError("the Geometry Score needs gudhi; install it with "
                    "`pip install gudhi`") from e
  return gudhi


def default_gamma(num_samples: int) -> float:
  """The reference's gamma: 1/128 scaled by N / 5000."""
  return DEFAULT_GAMMA * num_samples / 5000


def relative_living_times(intervals, alpha_max: float,
                          i_max: int = DEFAULT_I_MAX) -> np.ndarray:
  """RLT(i) for i < i_max from H1 intervals [[birth, death], ...].

  Deaths at infinity are cut at alpha_max. Returns [i_max] float64 >= 0
  summing to 1 (or less, when more than i_max - 1 holes were alive).
  With no interval at all, RLT(0) = 1.
  """
  intervals = np.asarray(intervals, np.float64).reshape(-1, 2)
  rlt = np.zeros(i_max)
  if intervals.shape[0] == 0:
    rlt[0] = 1.0
    return rlt
  intervals = intervals.copy()
  intervals[:, 1] = np.where(np.isinf(intervals[:, 1]), alpha_max,
                             intervals[:, 1])
  points = np.unique(np.concatenate([intervals.ravel(), [0.0, alpha_max]]))
  mids = (points[:-1] + points[1:]) / 2
  alive = ((intervals[None, :, 0] <= mids[:, None])
           & (mids[:, None] < intervals[None, :, 1])).sum(axis=1)
  lengths = np.diff(points)
  keep = alive < i_max
  np.add.at(rlt, alive[keep], lengths[keep])
  return rlt / alpha_max


@jax.jit
def _landmark_tables(witnesses, landmarks):
  """[R, N, L] sorted distances and landmark ids for [R, L, D] landmarks."""
  w_sq = jnp.sum(witnesses * witnesses, axis=1)

  def one(lm):
    d2 = (w_sq[:, None] + jnp.sum(lm * lm, axis=1)[None, :]
          - 2.0 * jnp.dot(witnesses, lm.T, precision=jax.lax.Precision.HIGHEST))
    d = jnp.sqrt(jnp.maximum(d2, 0.0))
    order = jnp.argsort(d, axis=1)
    return jnp.take_along_axis(d, order, axis=1), order, jnp.max(d)
  return jax.lax.map(one, landmarks)


def landmark_tables(features: np.ndarray, landmark_indices: np.ndarray):
  """Nearest-landmark tables for gudhi, one per run (float64).

  features: [N, D]; landmark_indices: [R, L] int.
  Returns (sorted_distances [R, N, L], landmark_ids [R, N, L], max_dist [R]).
  """
  features = np.asarray(features, np.float64)
  features = features - features.mean(0)  # Less cancellation, same distances.
  with jax.enable_x64(True):
    d, ids, dmax = _landmark_tables(jnp.asarray(features),
                                    jnp.asarray(features[landmark_indices]))
    return np.asarray(d), np.asarray(ids), np.asarray(dmax)


def witness_rlt(sorted_distances: np.ndarray, landmark_ids: np.ndarray,
                max_dist: float, gamma: float,
                i_max: int = DEFAULT_I_MAX) -> np.ndarray:
  """RLT [i_max] of one witness complex from its landmark table [N, L]."""
  gudhi = _gudhi()
  table = np.stack([landmark_ids.astype(np.float64), sorted_distances], -1)
  complex_ = gudhi.WitnessComplex(nearest_landmark_table=table)
  alpha_max = max_dist * gamma
  tree = complex_.create_simplex_tree(max_alpha_square=alpha_max,
                                      limit_dimension=2)
  tree.persistence(homology_coeff_field=2)
  intervals = tree.persistence_intervals_in_dimension(1)
  return relative_living_times(intervals, alpha_max, i_max)


def mean_relative_living_times(features, num_runs: int = DEFAULT_NUM_RUNS,
                               num_landmarks: int = DEFAULT_NUM_LANDMARKS,
                               gamma: float | None = None,
                               i_max: int = DEFAULT_I_MAX, seed: int = 0,
                               chunk: int = 16) -> dict:
  """MRLT of one feature set over `num_runs` landmark draws.

  features: [N, D]. Landmarks: np.random.default_rng(seed).integers(N,
  size=(num_runs, num_landmarks)) (with replacement, as the reference).
  Returns dict(mrlt [i_max] float64 in [0, 1], rlt [num_runs, i_max],
  landmark_indices [num_runs, num_landmarks], gamma float).
  """
  x = distances.check_features("features", features, min_rows=2)
  if num_runs < 1 or num_landmarks < 2:
    raise UserError(f"Geometry Score needs num_runs >= 1 and num_landmarks >= 2"
                    f", got {num_runs} and {num_landmarks}; use the defaults "
                    f"{DEFAULT_NUM_RUNS} and {DEFAULT_NUM_LANDMARKS}")
  gamma = default_gamma(x.shape[0]) if gamma is None else gamma
  indices = np.random.default_rng(seed).integers(
      x.shape[0], size=(num_runs, num_landmarks))
  rlts = []
  for s in range(0, num_runs, chunk):
    d, ids, dmax = landmark_tables(x, indices[s:s + chunk])
    for r in range(d.shape[0]):
      rlts.append(witness_rlt(d[r], ids[r], float(dmax[r]), gamma, i_max))
  rlt = np.stack(rlts)
  return dict(mrlt=rlt.mean(0), rlt=rlt, landmark_indices=indices,
              gamma=float(gamma))


def geometry_score(real_features, fake_features,
                   num_runs: int = DEFAULT_NUM_RUNS,
                   num_landmarks: int = DEFAULT_NUM_LANDMARKS,
                   gamma: float | None = None, i_max: int = DEFAULT_I_MAX,
                   seed: int = 0) -> dict:
  """Geometry Score of real vs fake features.

  real_features: [N, D], fake_features: [M, D] (float64 inside).
  gamma: None for the reference's 1/128 * n / 5000 per set.
  Returns a dict:
    geometry_score: float >= 0 (<= 2), lower is better;
    geometry_score_x1000: float, piq's scale;
    mrlt_real, mrlt_fake: [i_max] float64 in [0, 1];
    gamma_real, gamma_fake: float; num_real, num_fake, num_runs,
    num_landmarks, i_max: int.
  """
  real = distances.check_features("real_features", real_features, min_rows=2)
  fake = distances.check_features("fake_features", fake_features, min_rows=2)
  distances.check_same_dim("real_features", real, "fake_features", fake)
  a = mean_relative_living_times(real, num_runs, num_landmarks, gamma, i_max,
                                 seed)
  b = mean_relative_living_times(fake, num_runs, num_landmarks, gamma, i_max,
                                 seed + 1)
  score = float(np.sum((a["mrlt"] - b["mrlt"]) ** 2))
  return dict(geometry_score=score, geometry_score_x1000=1000 * score,
              mrlt_real=a["mrlt"], mrlt_fake=b["mrlt"],
              gamma_real=a["gamma"], gamma_fake=b["gamma"],
              num_real=int(real.shape[0]), num_fake=int(fake.shape[0]),
              num_runs=num_runs, num_landmarks=num_landmarks, i_max=i_max)
