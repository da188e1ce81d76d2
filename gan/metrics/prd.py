"""Precision and recall for distributions (PRD, Sajjadi et al. 2018).

Both feature sets are clustered together with k-means (20 clusters); the
histograms of cluster labels of the generated set (`eval`) and of the real
set (`ref`) are compared along 1001 slopes lambda = tan(angle), angle in
(0, pi/2):

  precision(lambda) = sum_c min(lambda * ref_c, eval_c),
  recall(lambda) = precision(lambda) / lambda,

averaged over 10 independent clusterings. Summaries: F_8 (recall-weighted)
and F_1/8 (precision-weighted), the maxima over the curve of
F_beta = (1 + beta^2) p r / (beta^2 p + r).

Differences from the reference implementation (facts only, our own code):
it clusters with scikit-learn's MiniBatchKMeans (n_init=10); we run
full-batch Lloyd iterations in JAX from k-means++ seeds, keeping the best of
`num_inits` seeds by inertia, which reaches the same or a lower k-means
objective. It refuses sets of different sizes (enforce_balance); we accept
them (histograms are normalised) but report both sizes. The curve
arithmetic (epsilon = 1e-10 at the ends of the angle range, clipping to
[0, 1], the F_beta epsilon 1e-10) is the reference's, in float64.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan.errors import UserError
from gan.metrics import distances

DEFAULT_NUM_CLUSTERS = 20
DEFAULT_NUM_ANGLES = 1001
DEFAULT_NUM_RUNS = 10
DEFAULT_NUM_INITS = 3
DEFAULT_MAX_ITER = 100
EPSILON = 1e-10


def _sq_dists(x, centres):
  xc = lax.dot_general(x, centres, (((1,), (1,)), ((), ())),
                       precision=lax.Precision.HIGHEST)
  return jnp.maximum(jnp.sum(x * x, 1)[:, None] + jnp.sum(centres * centres, 1)
                     - 2.0 * xc, 0.0)


def _kmeans_pp(key, x, num_clusters):
  """k-means++ seeding: each centre drawn with probability ~ d^2."""
  n = x.shape[0]
  key, sub = jax.random.split(key)
  first = jax.random.randint(sub, (), 0, n)
  centres = jnp.zeros((num_clusters, x.shape[1]), x.dtype).at[0].set(x[first])
  min_d2 = jnp.sum((x - x[first]) ** 2, axis=1)

  def body(c, carry):
    centres, min_d2, key = carry
    key, sub = jax.random.split(key)
    p = min_d2 / jnp.maximum(jnp.sum(min_d2), 1e-30)
    idx = jax.random.choice(sub, n, p=p)
    centres = centres.at[c].set(x[idx])
    min_d2 = jnp.minimum(min_d2, jnp.sum((x - x[idx]) ** 2, axis=1))
    return centres, min_d2, key

  centres, _, _ = lax.fori_loop(1, num_clusters, body, (centres, min_d2, key))
  return centres


def _lloyd(x, centres, max_iter, num_clusters):
  def step(carry):
    centres, _, it, _ = carry
    labels = jnp.argmin(_sq_dists(x, centres), axis=1)
    one_hot = jax.nn.one_hot(labels, num_clusters, dtype=x.dtype)
    counts = one_hot.sum(0)
    sums = one_hot.T @ x
    # An empty cluster keeps its centre.
    new = jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None],
                    centres)
    moved = jnp.max(jnp.abs(new - centres))
    return new, labels, it + 1, moved

  def cond(carry):
    _, _, it, moved = carry
    return (it < max_iter) & (moved > 0)

  labels0 = jnp.zeros(x.shape[0], jnp.int32)
  centres, _, _, _ = lax.while_loop(
      cond, step, (centres, labels0, 0, jnp.array(jnp.inf, x.dtype)))
  d2 = _sq_dists(x, centres)
  labels = jnp.argmin(d2, axis=1)
  inertia = jnp.sum(jnp.min(d2, axis=1))
  return labels, inertia


@functools.partial(jax.jit, static_argnames=("num_clusters", "num_inits",
                                              "max_iter"))
def kmeans_labels(key, x, num_clusters: int, num_inits: int, max_iter: int):
  """Cluster labels [N] int32 of x [N, D] (best of num_inits by inertia)."""
  def one(k):
    return _lloyd(x, _kmeans_pp(k, x, num_clusters), max_iter, num_clusters)

  labels, inertia = jax.vmap(one)(jax.random.split(key, num_inits))
  return labels[jnp.argmin(inertia)]


def prd_from_histograms(eval_dist, ref_dist,
                        num_angles: int = DEFAULT_NUM_ANGLES,
                        epsilon: float = EPSILON) -> dict:
  """PRD curve of two histograms over the same bins.

  eval_dist (generated), ref_dist (real): [C] float >= 0, each summing to 1.
  Returns dict(precision [num_angles], recall [num_angles]) float64 in [0, 1],
  slopes [num_angles] = tan(angles), angles in [epsilon, pi/2 - epsilon].
  """
  eval_dist = np.asarray(eval_dist, np.float64)
  ref_dist = np.asarray(ref_dist, np.float64)
  if num_angles < 3:
    raise UserError(f"PRD needs at least 3 angles, got {num_angles}; use the "
                    f"default {DEFAULT_NUM_ANGLES}")
  slopes = np.tan(np.linspace(epsilon, np.pi / 2 - epsilon, num_angles))
  precision = np.minimum(ref_dist[None, :] * slopes[:, None],
                         eval_dist[None, :]).sum(axis=1)
  recall = precision / slopes
  # Rounding can push values just above 1.
  return dict(precision=np.clip(precision, 0, 1), recall=np.clip(recall, 0, 1),
              slopes=slopes)


def max_f_beta(precision, recall, beta: float,
               epsilon: float = EPSILON) -> float:
  """max over the curve of (1 + beta^2) p r / (beta^2 p + r + epsilon)."""
  p, r = np.asarray(precision, np.float64), np.asarray(recall, np.float64)
  return float(np.max((1 + beta ** 2) * p * r / (beta ** 2 * p + r + epsilon)))


def label_histograms(labels: np.ndarray, num_eval: int, num_clusters: int):
  """Normalised histograms (eval, ref) of the union's labels [num_eval + R]."""
  labels = np.asarray(labels)
  eval_hist = np.bincount(labels[:num_eval], minlength=num_clusters)
  ref_hist = np.bincount(labels[num_eval:], minlength=num_clusters)
  return eval_hist / eval_hist.sum(), ref_hist / ref_hist.sum()


def prd(real_features, fake_features,
        num_clusters: int = DEFAULT_NUM_CLUSTERS,
        num_angles: int = DEFAULT_NUM_ANGLES,
        num_runs: int = DEFAULT_NUM_RUNS,
        num_inits: int = DEFAULT_NUM_INITS,
        max_iter: int = DEFAULT_MAX_ITER, seed: int = 0) -> dict:
  """PRD of generated (fake) vs real features.

  real_features: [N, D], fake_features: [M, D] (k-means in float32 on the
  centred union; curve arithmetic in float64).
  Returns a dict:
    precision, recall: [num_angles] float64 in [0, 1], averaged over runs;
    f_8: float in [0, 1], max F_8 (recall-weighted);
    f_1_8: float in [0, 1], max F_1/8 (precision-weighted);
    num_real, num_fake, num_clusters, num_runs, num_angles: int.
  """
  real = distances.check_features("real_features", real_features)
  fake = distances.check_features("fake_features", fake_features)
  distances.check_same_dim("real_features", real, "fake_features", fake)
  total = real.shape[0] + fake.shape[0]
  if num_clusters < 1 or total < num_clusters:
    raise UserError(
        f"PRD with {num_clusters} clusters needs at least that many samples, "
        f"got {real.shape[0]} real + {fake.shape[0]} generated; use more "
        f"samples or fewer clusters")
  union = np.concatenate([fake, real])
  union = (union - union.mean(0)).astype(np.float32)
  key = jax.random.PRNGKey(seed)
  precisions, recalls = [], []
  for run_key in jax.random.split(key, num_runs):
    labels = np.asarray(kmeans_labels(run_key, jnp.asarray(union), num_clusters,
                                      num_inits, max_iter))
    eval_dist, ref_dist = label_histograms(labels, fake.shape[0], num_clusters)
    curve = prd_from_histograms(eval_dist, ref_dist, num_angles)
    precisions.append(curve["precision"])
    recalls.append(curve["recall"])
  precision = np.mean(precisions, axis=0)
  recall = np.mean(recalls, axis=0)
  out = dict(precision=precision, recall=recall,
             f_8=max_f_beta(precision, recall, 8),
             f_1_8=max_f_beta(precision, recall, 1 / 8),
             num_real=int(real.shape[0]), num_fake=int(fake.shape[0]),
             num_clusters=num_clusters, num_runs=num_runs,
             num_angles=num_angles)
  return out
