"""Blocked Euclidean k-nearest neighbours and ball tests, exact in float64.

The metrics built on k-NN radii (precision/recall, density/coverage, CrossLID,
the memorisation audit) need Euclidean distances between every pair of two
feature sets (N x M, e.g. 10,000 x 10,000). This module never materialises
more than one block (`block_size` x `block_size`) of that matrix, and gives
the *float64* answer at float32 speed:

1. Features are centred on the mean of both sets (distances are unchanged,
   cancellation in |x|^2 + |y|^2 - 2 x.y is smaller) and cast to float32.
2. Each block's squared distances are computed in float32 on the device
   (`Precision.HIGHEST`: no TF32 on GPUs) together with a rigorous bound on
   their error, |d2_32 - d2| <= C (|x| + |y|)^2 with C = gamma_d + 8u,
   u = 2^-24 (the standard dot-product error bound plus input and addition
   roundings, times 1.05).
3. Only what float32 cannot decide is recomputed in float64, as
   sqrt(sum((x - y)^2)) on the caller's float64 values: the k nearest
   neighbours are chosen among k + margin float32 candidates and their
   distances recomputed (`kth_neighbour_distances` recomputes only the few
   candidates the bound cannot separate from the k-th); a ball test d < r is
   decided in float32 unless d2 lies within the error bound of r^2, and
   those few pairs are recomputed.

Rows where the candidate margin cannot be proven sufficient (more than
`margin` near-ties) and blocks with a row of more undecided pairs than its
slots fall back to a float64 computation of that row or block, so results
are always those of float64 arithmetic. Within one set (`references=None`)
only the blocks on and above the diagonal are computed.

Everything here runs under plain `jax.jit` on the default device; the
float64 parts run inside `jax.enable_x64(True)`, leaving the global setting
alone.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan.errors import UserError

DEFAULT_BLOCK_SIZE = 1024
# Extra float32 candidates kept per row beyond k before the exact recompute.
CANDIDATE_MARGIN = 8
# Undecided (pair) slots per row and block; a row with more is redone in
# float64 against that block.
AMBIGUOUS_CAPACITY = 8
_UNIT_ROUNDOFF_32 = 2.0 ** -24


def error_coefficient(dim: int) -> float:
  """C such that |d2_float32 - d2| <= C (|x| + |y|)^2 (see module docstring)."""
  nu = dim * _UNIT_ROUNDOFF_32
  return 1.05 * (nu / (1.0 - nu) + 8 * _UNIT_ROUNDOFF_32)


def check_features(name: str, x, min_rows: int = 1) -> np.ndarray:
  """[N, D] finite float64 array, or a one-line UserError."""
  x = np.asarray(x)
  if x.ndim != 2:
    raise UserError(f"{name} must be a 2-D [num_samples, feature_dim] array, "
                    f"got shape {x.shape}; flatten or stack the features first")
  if x.shape[0] < min_rows:
    raise UserError(f"{name} has {x.shape[0]} samples but at least {min_rows} "
                    f"are needed; supply more samples or lower k")
  x = x.astype(np.float64, copy=False)
  if not np.all(np.isfinite(x)):
    raise UserError(f"{name} contains NaN or infinite values; check the "
                    f"feature extractor and its inputs")
  return x


def check_same_dim(name1: str, x: np.ndarray, name2: str, y: np.ndarray):
  if x.shape[1] != y.shape[1]:
    raise UserError(
        f"{name1} has feature dimension {x.shape[1]} but {name2} has "
        f"{y.shape[1]}; extract both with the same feature extractor/layer")


def check_k(k: int, num_samples: int, name: str, exclude_self: bool):
  needed = k + 1 if exclude_self else k
  if k < 1 or num_samples < needed:
    raise UserError(
        f"k={k} nearest neighbours need at least {needed} samples in {name}, "
        f"which has {num_samples}; use more samples or a smaller k")


class _Prepared:
  """A feature set centred, in float64 (exact) and padded float32 (fast)."""

  def __init__(self, x64: np.ndarray, centre: np.ndarray, block: int):
    # Exact work uses the caller's float64 values (differences need no
    # centring); the float32 copy and the norms in the error bound are centred.
    self.x64 = x64
    self.centre = centre
    self.n = x64.shape[0]
    pad = (-self.n) % block
    x32 = np.zeros((self.n + pad, x64.shape[1]), np.float32)
    self.norm = np.empty(self.n)
    for s in range(0, self.n, 4096):
      c = x64[s:s + 4096] - centre
      self.norm[s:s + 4096] = np.sqrt(np.einsum("nd,nd->n", c, c))
      x32[s:s + len(c)] = c
    sq = np.concatenate([self.norm ** 2, np.zeros(pad)])
    norm = np.concatenate([self.norm, np.zeros(pad)])
    self.x32 = jnp.asarray(x32)
    self.sq32 = jnp.asarray(sq.astype(np.float32))
    self.norm32 = jnp.asarray(norm.astype(np.float32))
    self.num_blocks = (self.n + pad) // block
    self.block = block
    self._x64_device = None

  def x64_device(self):
    """The float64 features on the device (call under jax.enable_x64)."""
    if self._x64_device is None:
      self._x64_device = jnp.asarray(self.x64)
    return self._x64_device


def prepare(x: np.ndarray, y: np.ndarray | None, block: int):
  """Centres x (and y) on their joint mean; returns (px, py), py = px if y
  is None."""
  if y is None:
    centre = x.mean(0)
  else:
    centre = (x.sum(0) + y.sum(0)) / (x.shape[0] + y.shape[0])
  px = _Prepared(x, centre, block)
  py = px if y is None else _Prepared(y, centre, block)
  return px, py


def _sq_dist_block(x, x_sq, y, y_sq):
  xy = lax.dot_general(x, y, (((1,), (1,)), ((), ())),
                       precision=lax.Precision.HIGHEST)
  return x_sq[:, None] + y_sq[None, :] - 2.0 * xy


def _rows(a, start, size):
  return lax.dynamic_slice_in_dim(a, start, size, axis=0)


@functools.partial(jax.jit, static_argnames=("block", "num_candidates",
                                              "symmetric"))
def _knn_block(x_all, x_sq_all, y_all, y_sq_all, valid_x, valid_y, state_x,
               state_y, block, num_candidates, symmetric):
  """Merges the float32 candidates of one (row block, column block) pair.

  valid_x = (first row, rows left) of the row block; valid_y likewise.
  With `symmetric` (x and y are one set) a point is not its own neighbour,
  and the block also updates the column block's candidates (the caller
  drops that update on diagonal blocks). One program serves every block.
  """
  x, x_sq = _rows(x_all, valid_x[0], block), _rows(x_sq_all, valid_x[0], block)
  y, y_sq = _rows(y_all, valid_y[0], block), _rows(y_sq_all, valid_y[0], block)
  d2 = _sq_dist_block(x, x_sq, y, y_sq)
  b_x, b_y = d2.shape
  col = lax.broadcasted_iota(jnp.int32, d2.shape, 1)
  row = lax.broadcasted_iota(jnp.int32, d2.shape, 0)
  invalid = (col >= valid_y[1]) | (row >= valid_x[1])
  if symmetric:
    invalid = invalid | ((valid_x[0] == valid_y[0]) & (row == col))
  d2 = jnp.where(invalid, jnp.inf, d2)

  def merge(state, block, offset):
    neg, idx = lax.top_k(-block, num_candidates)
    vals = jnp.concatenate([state[0], -neg], axis=1)
    ids = jnp.concatenate([state[1], idx + offset], axis=1)
    neg, pos = lax.top_k(-vals, num_candidates)
    return -neg, jnp.take_along_axis(ids, pos, axis=1)

  state_x = merge(state_x, d2, valid_y[0])
  if symmetric:
    state_y = merge(state_y, d2.T, valid_x[0])
  return state_x, state_y


@functools.partial(jax.jit, static_argnames=("k",))
def _refine(x_all, rows, y_all, cand_idx, cand_d2_32, x_norm, y_norm_max, coef,
            k):  # rows: [R] int indices into x_all.
  """Exact float64 distances of the candidates and a per-row validity flag."""
  diff = x_all[rows][:, None, :] - y_all[cand_idx]
  d2 = jnp.sum(diff * diff, axis=-1)
  order = jnp.argsort(d2, axis=1)
  d2 = jnp.take_along_axis(d2, order, axis=1)
  err = coef * (x_norm + y_norm_max) ** 2
  # Every non-candidate has d2 >= last candidate's float32 value - err; the
  # true k-th smallest is <= k-th float32 candidate + err.
  valid = cand_d2_32[:, -1] - err > cand_d2_32[:, k - 1] + err
  return jnp.sqrt(d2[:, :k]), order[:, :k], valid


def _exact_row_knn(q: np.ndarray, refs: np.ndarray, k: int,
                   exclude: int | None):
  d = np.sqrt(np.sum((refs - q) ** 2, axis=1))
  if exclude is not None:
    d[exclude] = np.inf
  order = np.argsort(d, kind="stable")[:k]
  return d[order], order


def nearest_neighbours(queries, references=None, k: int = 1,
                       block_size: int = DEFAULT_BLOCK_SIZE,
                       margin: int = CANDIDATE_MARGIN):
  """The k nearest references of each query, exact float64 Euclidean.

  queries: [N, D]; references: [M, D], or None for the neighbours of each
  query among the *other* queries (the point itself excluded by index, so a
  duplicate still counts as a neighbour at distance 0).
  Returns (distances [N, k] float64 >= 0 ascending, indices [N, k] int64).
  """
  x = check_features("queries", queries)
  y = None if references is None else check_features("references", references)
  symmetric = y is None
  if not symmetric:
    check_same_dim("queries", x, "references", y)
  check_k(k, x.shape[0] if symmetric else y.shape[0],
          "queries" if symmetric else "references", exclude_self=symmetric)
  block_size = max(block_size, k + margin)  # top_k needs that many columns.
  px, py = prepare(x, y, block_size)
  return _knn_prepared(px, py, k, block_size, margin, symmetric)


def nearest_neighbours_prepared(px, py=None, k: int = 1,
                                margin: int = CANDIDATE_MARGIN):
  """`nearest_neighbours` on sets from `prepare` (py None: within px)."""
  if px.block < k + margin:
    raise ValueError(f"block {px.block} < k + margin = {k + margin}")
  symmetric = py is None
  return _knn_prepared(px, px if symmetric else py, k, px.block, margin,
                       symmetric)


def _candidates(px, py, kc, block, symmetric):
  """The kc smallest float32 squared distances per row of px, and indices."""
  init = lambda: (jnp.full((block, kc), jnp.inf, jnp.float32),
                  jnp.full((block, kc), -1, jnp.int32))
  states_x = [init() for _ in range(px.num_blocks)]
  states_y = states_x if symmetric else None
  dummy = init()
  for i in range(px.num_blocks):
    vx = np.array([i * block, px.n - i * block], np.int32)
    for j in range(i if symmetric else 0, py.num_blocks):
      vy = np.array([j * block, py.n - j * block], np.int32)
      sy = states_y[j] if symmetric else dummy
      sx, sy = _knn_block(px.x32, px.sq32, py.x32, py.sq32, vx, vy,
                          states_x[i], sy, block=block, num_candidates=kc,
                          symmetric=symmetric)
      states_x[i] = sx
      if symmetric and i != j:
        states_y[j] = sy
  cand_d2 = np.concatenate([np.asarray(s[0]) for s in states_x])[:px.n]
  cand_idx = np.concatenate([np.asarray(s[1]) for s in states_x])[:px.n]
  return cand_d2, cand_idx


def _chunks(n, rows):
  """(start, end, padded row indices) covering range(n) in equal chunks."""
  for s in range(0, n, rows):
    e = min(n, s + rows)
    idx = np.arange(s, s + rows)
    yield s, e, np.minimum(idx, e - 1)


def _knn_prepared(px, py, k, block, margin, symmetric):
  n_ref = py.n - (1 if symmetric else 0)
  kc = min(k + margin, n_ref)
  cand_d2, cand_idx = _candidates(px, py, kc, block, symmetric)
  return _refine_rows(px, py, k, kc, n_ref, cand_d2, cand_idx, symmetric,
                      np.arange(px.n))


def _refine_rows(px, py, k, kc, n_ref, cand_d2, cand_idx, symmetric, which):
  """Exact k nearest for the rows `which` from their float32 candidates."""
  coef = error_coefficient(px.x64.shape[1])
  norm_max = float(py.norm.max())
  dists = np.empty((len(which), k))
  idx = np.empty((len(which), k), np.int64)
  # Rows per refine call: bounds a materialised gather to ~64 MiB.
  rows = max(1, min(len(which), (1 << 23) // max(1, kc * px.x64.shape[1])))
  with jax.enable_x64(True):
    x_dev, y_dev = px.x64_device(), py.x64_device()
    for s, e, sel in _chunks(len(which), rows):
      q = which[sel]
      d, order, valid = _refine(
          x_dev, q, y_dev, cand_idx[q], cand_d2[q].astype(np.float64),
          px.norm[q], norm_max, coef, k)
      n = e - s
      d, order, valid = (np.array(a)[:n] for a in (d, order, valid))
      if kc == n_ref:  # Every reference is a candidate: nothing to prove.
        valid[:] = True
      dists[s:e] = d
      idx[s:e] = np.take_along_axis(cand_idx[q[:n]], order, axis=1)
      for r in np.nonzero(~valid)[0]:
        row = q[r]
        dists[s + r], idx[s + r] = _exact_row_knn(
            px.x64[row], py.x64, k, row if symmetric else None)
  return dists, idx


@jax.jit
def _exact_sorted(x_all, rows, y_all, cols, use):
  """Sorted exact distances from x_all[rows] [R] to y_all[cols] [R, W];
  entries where `use` [R, W] is False count as +inf."""
  diff = x_all[rows][:, None, :] - y_all[cols]
  d2 = jnp.where(use, jnp.sum(diff * diff, axis=-1), jnp.inf)
  return jnp.sqrt(jnp.sort(d2, axis=1))


def kth_neighbour_distances(px, ks, margin: int = CANDIDATE_MARGIN,
                            window: int = 6) -> dict:
  """Exact distance of each point of `prepare`d px to its k-th nearest other
  point, for each k in ks: {k: [N] float64}.

  Cheaper than `nearest_neighbours`: per row, only the float32 candidates
  that the error bound cannot separate from the k-th (at most `window` of
  them, between two provable gaps) are recomputed in float64; other rows get
  the full recompute.
  """
  k_min, k_max = min(ks), max(ks)
  check_k(k_max, px.n, "the feature set", exclude_self=True)
  if px.block < k_max + margin:
    raise ValueError(f"block {px.block} < k + margin = {k_max + margin}")
  n_ref = px.n - 1
  kc = min(k_max + margin, n_ref)
  cand_d2, cand_idx = _candidates(px, px, kc, px.block, True)
  coef = error_coefficient(px.x64.shape[1])
  err = coef * (px.norm + px.norm.max()) ** 2
  c = cand_d2.astype(np.float64)
  # gap[:, m]: every true value at positions <= m is below every one > m.
  gap = c[:, 1:] - err[:, None] > c[:, :-1] + err[:, None]
  pos = np.arange(kc)
  # Window start: the largest a <= k_min - 1 with a gap just below it.
  starts = np.where(gap[:, :k_min - 1], pos[1:k_min], 0)
  a = starts.max(1) if k_min > 1 else np.zeros(px.n, np.int64)
  # Window end: the smallest b >= k_max - 1 with a gap just above it.
  above = gap[:, k_max - 1:]
  has_b = above.any(1)
  b = np.where(has_b, k_max - 1 + above.argmax(1), kc - 1)
  valid = (has_b | (kc == n_ref)) & (b - a + 1 <= window)
  slots = a[:, None] + np.arange(window)[None]
  use = slots < kc  # Past the last candidate: padding, +inf.
  cols = np.take_along_axis(cand_idx, np.minimum(slots, kc - 1), axis=1)
  out = {k: np.empty(px.n) for k in ks}
  rows = max(1, min(px.n, (1 << 23) // (window * px.x64.shape[1])))
  with jax.enable_x64(True):
    x_dev = px.x64_device()
    for s, e, q in _chunks(px.n, rows):
      d = np.asarray(_exact_sorted(x_dev, q, x_dev, cols[q], use[q]))[:e - s]
      for k in ks:
        at = np.clip(k - 1 - a[s:e], 0, window - 1)  # Invalid rows: redone.
        out[k][s:e] = np.take_along_axis(d, at[:, None], 1)[:, 0]
  # Rows whose window could not be proven: all kc candidates on the host,
  # then the whole row where even the margin cannot be proven.
  full_ok = (kc == n_ref) | (c[:, -1] - err > c[:, k_max - 1] + err)
  which = np.nonzero(~valid)[0]
  for s in range(0, len(which), 256):
    rows_ = which[s:s + 256]
    diff = px.x64[rows_][:, None, :] - px.x64[cand_idx[rows_]]
    d = np.sort(np.sqrt(np.einsum("rkd,rkd->rk", diff, diff)), axis=1)
    for k in ks:
      out[k][rows_] = d[:, k - 1]
  for row in np.nonzero(~valid & ~full_ok)[0]:
    d, _ = _exact_row_knn(px.x64[row], px.x64, k_max, row)
    for k in ks:
      out[k][row] = d[k - 1]
  return out


@functools.partial(jax.jit, static_argnames=("block", "capacity"))
def _ball_block(x_all, x_sq_all, x_norm_all, r2_x_all, r2_xa_all, y_all,
                y_sq_all, y_norm_all, r2_y_all, valid_x, valid_y, coef, block,
                capacity):
  """Ball tests of one block, decided in float32 where the error bound allows.

  a[i, j]: x_i's ball (radius r_x[i]) contains y_j;  b[i, j]: y_j's ball
  contains x_i; c[i, j]: x_i's second ball (radius r_xa[i]) contains y_j.
  Returns the decided counts and the undecided pairs.
  """
  x, x_sq, x_norm, r2_x, r2_xa = (_rows(a, valid_x[0], block) for a in (
      x_all, x_sq_all, x_norm_all, r2_x_all, r2_xa_all))
  y, y_sq, y_norm, r2_y = (_rows(a, valid_y[0], block) for a in (
      y_all, y_sq_all, y_norm_all, r2_y_all))
  d2 = _sq_dist_block(x, x_sq, y, y_sq)
  col = lax.broadcasted_iota(jnp.int32, d2.shape, 1)
  row = lax.broadcasted_iota(jnp.int32, d2.shape, 0)
  valid = (col < valid_y[1]) & (row < valid_x[1])
  err = coef * (x_norm[:, None] + y_norm[None, :]) ** 2

  def decide(r2):
    slack = err + 4 * _UNIT_ROUNDOFF_32 * r2
    sure = valid & (d2 + slack < r2)
    maybe = valid & ~sure & (d2 - slack <= r2)
    return sure, maybe

  sure_a, maybe_a = decide(r2_x[:, None])
  sure_b, maybe_b = decide(r2_y[None, :])
  sure_c, maybe_c = decide(r2_xa[:, None])

  def pairs(maybe):
    # Undecided columns of each row (the first `capacity` of them).
    _, cols = lax.top_k(maybe.astype(jnp.float32), max(capacity, 1))
    return jnp.sum(maybe, axis=1), cols

  return (jnp.sum(sure_a, axis=0), jnp.any(sure_a, axis=1),
          jnp.any(sure_b, axis=1), jnp.any(sure_c, axis=0), pairs(maybe_a),
          pairs(maybe_b), pairs(maybe_c))


def ball_counts(x, y, radii_x, radii_y, radii_x_any=None, strict: bool = True,
                block_size: int = DEFAULT_BLOCK_SIZE,
                capacity: int = AMBIGUOUS_CAPACITY, prepared=None):
  """Counts of x-balls containing y points and the reverse, exact float64.

  x: [N, D], y: [M, D]; radii_x: [N] >= 0, radii_y: [M] >= 0 (float64);
  radii_x_any: [N] >= 0, a second set of x radii (default radii_x).
  `strict`: a ball of radius r contains points at distance d < r (True, as
  the prdc package) or d <= r (False, as torch-fidelity).
  Returns a dict:
    y_in_x_balls: [M] int64, for each y_j the number of balls r_x[i]
      containing it;
    x_covered:    [N] bool, x_i's ball contains at least one y_j;
    x_in_y_balls: [N] bool, x_i lies in at least one ball of radius r_y[j];
    y_in_any_x_ball: [M] bool, y_j lies in some ball of radius radii_x_any[i].
  """
  if prepared is None:
    xx = check_features("x", x)
    yy = check_features("y", y)
    check_same_dim("x", xx, "y", yy)
    px, py = prepare(xx, yy, block_size)
  else:
    px, py = prepared
  block_size = px.block
  radii_x = np.asarray(radii_x, np.float64)
  radii_y = np.asarray(radii_y, np.float64)
  radii_xa = radii_x if radii_x_any is None else np.asarray(radii_x_any,
                                                              np.float64)
  coef = error_coefficient(px.x64.shape[1])
  pad = lambda r, p: jnp.asarray(np.concatenate(
      [r ** 2, np.zeros(p.num_blocks * block_size - p.n)]).astype(np.float32))
  r2x, r2y, r2xa = pad(radii_x, px), pad(radii_y, py), pad(radii_xa, px)
  y_in_x = np.zeros(py.n, np.int64)
  y_any = np.zeros(py.n, bool)
  x_cov = np.zeros(px.n, bool)
  x_in_y = np.zeros(px.n, bool)
  b = block_size
  inside = (lambda d, r: d < r) if strict else (lambda d, r: d <= r)

  def launch(i, j):
    vx = np.array([i * b, px.n - i * b], np.int32)
    vy = np.array([j * b, py.n - j * b], np.int32)
    return _ball_block(px.x32, px.sq32, px.norm32, r2x, r2xa, py.x32, py.sq32,
                       py.norm32, r2y, vx, vy, coef, block=b,
                       capacity=capacity)

  blocks = [(i, j) for i in range(px.num_blocks) for j in range(py.num_blocks)]
  pending = launch(*blocks[0])
  for n, (i, j) in enumerate(blocks):
    out = pending
    if n + 1 < len(blocks):  # Keep the device busy while the host works.
      pending = launch(*blocks[n + 1])
    (col_a, row_a, row_b, col_c, (na, ca), (nb, cb),
     (nc, cc)) = jax.device_get(out)
    ni, nj = min(b, px.n - i * b), min(b, py.n - j * b)
    gi, gj = i * b, j * b
    if max(na.max(), nb.max(), nc.max()) > capacity:
      # A row with more near-ties than slots: redo the block in float64.
      xd = px.x64[gi:gi + ni] - px.centre
      yd = py.x64[gj:gj + nj] - py.centre
      d = np.sqrt(np.maximum(
          (xd ** 2).sum(1)[:, None] + (yd ** 2).sum(1)[None] - 2 * xd @ yd.T,
          0))
      a = inside(d, radii_x[gi:gi + ni, None])
      y_in_x[gj:gj + nj] += a.sum(0)
      x_cov[gi:gi + ni] |= a.any(1)
      x_in_y[gi:gi + ni] |= inside(d, radii_y[None, gj:gj + nj]).any(1)
      y_any[gj:gj + nj] |= inside(d, radii_xa[gi:gi + ni, None]).any(0)
      continue
    y_in_x[gj:gj + nj] += col_a[:nj]
    x_cov[gi:gi + ni] |= row_a[:ni]
    x_in_y[gi:gi + ni] |= row_b[:ni]
    y_any[gj:gj + nj] |= col_c[:nj]
    ra, ca = _undecided(na, ca, gi, gj)
    if len(ra):
      hit = inside(_pair_dist(px.x64, py.x64, ra, ca), radii_x[ra])
      np.add.at(y_in_x, ca[hit], 1)
      x_cov[ra[hit]] = True
    rb, cb = _undecided(nb, cb, gi, gj)
    if len(rb):
      hit = inside(_pair_dist(px.x64, py.x64, rb, cb), radii_y[cb])
      x_in_y[rb[hit]] = True
    rc, cc = _undecided(nc, cc, gi, gj)
    if len(rc):
      hit = inside(_pair_dist(px.x64, py.x64, rc, cc), radii_xa[rc])
      y_any[cc[hit]] = True
  return dict(y_in_x_balls=y_in_x, x_covered=x_cov, x_in_y_balls=x_in_y,
              y_in_any_x_ball=y_any)


def _undecided(counts, cols, row_offset, col_offset):
  """Global (rows, cols) of the undecided pairs from per-row slots."""
  rows = np.nonzero(counts)[0]
  if not len(rows):
    return rows, rows
  slot = np.arange(cols.shape[1])[None, :] < counts[rows][:, None]
  return (np.repeat(rows, counts[rows]) + row_offset,
          cols[rows][slot] + col_offset)


def _pair_dist(x, y, rows, cols):
  return np.sqrt(np.sum((x[rows] - y[cols]) ** 2, axis=1))


def pairwise_distances(x, y=None) -> np.ndarray:
  """Full [N, M] float64 distance matrix (for small sets and tests only)."""
  x = check_features("x", x)
  y = x if y is None else check_features("y", y)
  check_same_dim("x", x, "y", y)
  d2 = np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
  return np.sqrt(d2)
