"""Blocked Euclidean k-nearest neighbours, exact in float64 (the ball tests
built on them are `gan.metrics.balls`).

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
`margin` near-ties) fall back to a float64 computation of that row; ball
test blocks with a row of more undecided pairs than its slots are redone as
a float64 GEMM with its own error bound, and the pairs that bound leaves open
(every exact tie d == r) are decided on exact differences. So results are
always those of sqrt(sum((x - y)^2)) in float64 compared with `<` or `<=`:
ties compare equal (on integer features, as the prdc package's). Within
one set (`references=None`) only the blocks on and above the diagonal are
computed.

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
UNIT_ROUNDOFF_32 = 2.0 ** -24
UNIT_ROUNDOFF_64 = 2.0 ** -53


def error_coefficient(dim: int, unit: float = UNIT_ROUNDOFF_32) -> float:
  """C such that |d2_float32 - d2| <= C (|x| + |y|)^2 (see module docstring);
  with unit=2^-53 the same for float64 (and, as C >= gamma_d + 3u, a bound
  on the relative error of sum((x - y)^2) in float64 too)."""
  nu = dim * unit
  return 1.05 * (nu / (1.0 - nu) + 8 * unit)


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


def balanced_block(n: int, block: int) -> int:
  """The block size for n rows: at most `block` (rounded up to a multiple of
  8), as few blocks as with `block`, and as little padding as possible
  (10,000 rows at 1024 -> 10 blocks of 1000, not 10 of 1024 with 240
  padding rows: 5% less GEMM work)."""
  num_blocks = -(-n // block)
  balanced = -(-n // num_blocks)
  return min(block, -(-balanced // 8) * 8)


class _Prepared:
  """A feature set centred, in float64 (exact) and padded float32 (fast).

  Padding rows have squared norm +inf, so every distance to them is +inf:
  they are never a neighbour and never inside a ball, with no masks.
  """

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
    sq = np.concatenate([self.norm ** 2, np.full(pad, np.inf)])
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


def prepare(x: np.ndarray, y: np.ndarray | None, block: int,
            min_block: int = 1):
  """Centres x (and y) on their joint mean; returns (px, py), py = px if y
  is None. Each set gets its own `balanced_block(n, block)` (`block` itself
  where that would be below `min_block`)."""
  if y is None:
    centre = x.mean(0)
  else:
    centre = (x.sum(0) + y.sum(0)) / (x.shape[0] + y.shape[0])
  size = lambda n: (balanced_block(n, block)
                    if balanced_block(n, block) >= min_block else block)
  px = _Prepared(x, centre, size(x.shape[0]))
  py = px if y is None else _Prepared(y, centre, size(y.shape[0]))
  return px, py


def sq_dist_block(x, x_sq, y, y_sq):
  xy = lax.dot_general(x, y, (((1,), (1,)), ((), ())),
                       precision=lax.Precision.HIGHEST)
  return x_sq[:, None] + y_sq[None, :] - 2.0 * xy


def block_rows(a, start, size):
  return lax.dynamic_slice_in_dim(a, start, size, axis=0)


_GROUP = 8  # Columns per group in `_merge_smallest`.


def _merge_smallest(state, d2, offset):
  """The kc smallest of the candidates `state` = (values [R, kc], ids) and
  of d2 [R, C] (ids: column + offset), per row, ascending.

  XLA:CPU's top_k costs about as much per row as for 1,000 columns, and a
  top_k over a whole block costs a tenth of its GEMM. The kc smallest lie in
  the kc groups (of _GROUP values) with the smallest minima, so top_k runs
  over the group minima, then over those kc groups' values: two small
  top_k per row and block, the old candidates merged in as groups too.
  """
  vals, ids = state
  rows, kc = vals.shape
  cols = d2.shape[1]
  if cols % _GROUP or cols // _GROUP < 2 * kc:
    neg, idx = lax.top_k(-d2, kc)
    vals = jnp.concatenate([vals, -neg], axis=1)
    ids = jnp.concatenate([ids, idx + offset], axis=1)
    neg, pos = lax.top_k(-vals, kc)
    return -neg, jnp.take_along_axis(ids, pos, axis=1)
  head = -(-kc // _GROUP) * _GROUP  # The candidates, padded to whole groups.
  vals = jnp.pad(vals, ((0, 0), (0, head - kc)), constant_values=jnp.inf)
  ids = jnp.pad(ids, ((0, 0), (0, head - kc)), constant_values=-1)
  grouped = jnp.concatenate([vals, d2], axis=1).reshape(rows, -1, _GROUP)
  _, best = lax.top_k(-jnp.min(grouped, axis=2), kc)  # [R, kc] group ids.
  cand = jnp.take_along_axis(grouped, best[:, :, None], axis=1)
  neg, pos = lax.top_k(-cand.reshape(rows, kc * _GROUP), kc)
  at = jnp.take_along_axis(best, pos // _GROUP, axis=1) * _GROUP + pos % _GROUP
  old = jnp.take_along_axis(ids, jnp.minimum(at, head - 1), axis=1)
  return -neg, jnp.where(at < head, old, at - head + offset)


@functools.partial(jax.jit, static_argnames=("block_x", "block_y",
                                              "num_candidates", "symmetric"))
def _knn_block(x_all, x_sq_all, y_all, y_sq_all, starts, state_x, state_y,
               block_x, block_y, num_candidates, symmetric):
  """Merges the float32 candidates of one (row block, column block) pair.

  starts = (first row, first column). Padding has squared norm +inf, hence
  distance +inf. With `symmetric` (x and y are one set) a point is not its
  own neighbour, and the block also updates the column block's candidates
  (the caller drops that update on diagonal blocks). One program serves
  every block.
  """
  x, x_sq = (block_rows(a, starts[0], block_x) for a in (x_all, x_sq_all))
  y, y_sq = (block_rows(a, starts[1], block_y) for a in (y_all, y_sq_all))
  d2 = sq_dist_block(x, x_sq, y, y_sq)
  if symmetric:
    col = lax.broadcasted_iota(jnp.int32, d2.shape, 1)
    row = lax.broadcasted_iota(jnp.int32, d2.shape, 0)
    d2 = jnp.where((starts[0] == starts[1]) & (row == col), jnp.inf, d2)

  state_x = _merge_smallest(state_x, d2, starts[1])
  if symmetric:
    state_y = _merge_smallest(state_y, d2.T, starts[0])
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
  px, py = prepare(x, y, block_size, min_block=k + margin)
  return _knn_prepared(px, py, k, margin, symmetric)


def nearest_neighbours_prepared(px, py=None, k: int = 1,
                                margin: int = CANDIDATE_MARGIN):
  """`nearest_neighbours` on sets from `prepare` (py None: within px)."""
  symmetric = py is None
  py = px if symmetric else py
  kc = min(k + margin, py.n - (1 if symmetric else 0))
  if py.block < kc:
    raise ValueError(f"block {py.block} < k + margin = {kc}")
  return _knn_prepared(px, py, k, margin, symmetric)


def _candidates(px, py, kc, symmetric):
  """The kc smallest float32 squared distances per row of px, and indices."""
  init = lambda b: (jnp.full((b, kc), jnp.inf, jnp.float32),
                    jnp.full((b, kc), -1, jnp.int32))
  states_x = [init(px.block) for _ in range(px.num_blocks)]
  states_y = states_x if symmetric else None
  dummy = init(py.block)
  for i in range(px.num_blocks):
    for j in range(i if symmetric else 0, py.num_blocks):
      starts = np.array([i * px.block, j * py.block], np.int32)
      sy = states_y[j] if symmetric else dummy
      sx, sy = _knn_block(px.x32, px.sq32, py.x32, py.sq32, starts,
                          states_x[i], sy, block_x=px.block,
                          block_y=py.block, num_candidates=kc,
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


def _knn_prepared(px, py, k, margin, symmetric):
  n_ref = py.n - (1 if symmetric else 0)
  kc = min(k + margin, n_ref)
  cand_d2, cand_idx = _candidates(px, py, kc, symmetric)
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


def kth_neighbour_distances(px, ks, margin: int = CANDIDATE_MARGIN,
                            window: int = 6) -> dict:
  """Exact distance of each point of `prepare`d px to its k-th nearest other
  point, for each k in ks: {k: [N] float64}.

  Cheaper than `nearest_neighbours`: per row, only the float32 candidates
  that the error bound cannot separate from the k-th (at most `window` of
  them, between two provable gaps; usually one) are recomputed in float64;
  other rows get the full recompute.
  """
  k_min, k_max = min(ks), max(ks)
  check_k(k_max, px.n, "the feature set", exclude_self=True)
  n_ref = px.n - 1
  kc = min(k_max + margin, n_ref)
  if px.block < kc:
    raise ValueError(f"block {px.block} < k + margin = {kc}")
  cand_d2, cand_idx = _candidates(px, px, kc, True)
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
  width = b - a + 1
  valid = (has_b | (kc == n_ref)) & (width <= window)
  # Positions a..b of the valid rows, as (row, slot) pairs: the true values
  # there are those of ranks a..b, so rank k is the (k - 1 - a)-th smallest.
  rows = np.nonzero(valid)[0]
  w = width[rows]
  pair_rows = np.repeat(rows, w)
  slot = np.arange(len(pair_rows)) - np.repeat(np.cumsum(w) - w, w)
  pair_cols = cand_idx[pair_rows, a[pair_rows] + slot]
  win = np.full((px.n, max(1, int(w.max(initial=1)))), np.inf)
  win[pair_rows, slot] = pair_distances(px.x64, px.x64, pair_rows, pair_cols)
  win.sort(axis=1)
  out = {k: np.empty(px.n) for k in ks}
  for k in ks:
    out[k][rows] = win[rows, k - 1 - a[rows]]
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


def pair_distances(x, y, rows, cols, chunk: int = 2048):
  """||x[rows] - y[cols]|| in float64, pairwise, a chunk at a time."""
  out = np.empty(len(rows))
  for s in range(0, len(rows), chunk):
    diff = x[rows[s:s + chunk]] - y[cols[s:s + chunk]]
    out[s:s + chunk] = np.sqrt(np.einsum("pd,pd->p", diff, diff))
  return out


def pairwise_distances(x, y=None) -> np.ndarray:
  """Full [N, M] float64 distance matrix (for small sets and tests only)."""
  x = check_features("x", x)
  y = x if y is None else check_features("y", y)
  check_same_dim("x", x, "y", y)
  d2 = np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
  return np.sqrt(d2)
