"""Ball tests between two feature sets, exact in float64 (density/coverage,
improved precision/recall): for each point, whether and how often it lies
in the other set's k-NN balls.

Built on the blocked distances of `gan.metrics.distances` (its module
docstring gives the error bound): each block is decided in float32 where
the bound allows; the few pairs it cannot decide are recomputed as exact
float64 differences, and a block with more near-ties than slots is redone
as a float64 GEMM with its own bound.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan.metrics import distances

# Undecided (pair) slots per row and block; a row with more is redone in
# float64 against that block.
AMBIGUOUS_CAPACITY = 8
# Rows per block whose undecided pairs are returned (more: the block reruns).
AMBIGUOUS_ROWS = 256

@functools.partial(jax.jit, static_argnames=("block_x", "block_y",
                                              "capacity", "max_rows"))
def _ball_block(x_all, x_sq_all, x_norm_all, r2_x_all, r2_xa_all, y_all,
                y_sq_all, y_norm_all, r2_y_all, starts, coef, block_x,
                block_y, capacity, max_rows):
  """Ball tests of one block, decided in float32 where the error bound allows.

  a[i, j]: x_i's ball (radius r_x[i]) contains y_j;  b[i, j]: y_j's ball
  contains x_i; c[i, j]: x_i's second ball (radius r_xa[i]) contains y_j.
  A pair that any of the three tests cannot decide is left out of all three
  counts and returned instead (its block-local row, and per row up to
  `capacity` columns; the `max_rows` rows with such pairs come first), for
  the caller to decide in float64.
  Returns (a column sums, a row any, b row any, c column any, rows, row
  counts, columns, number of rows with undecided pairs).
  """
  rows_of = distances.block_rows
  x, x_sq, x_norm, r2_x, r2_xa = (rows_of(a, starts[0], block_x) for a in (
      x_all, x_sq_all, x_norm_all, r2_x_all, r2_xa_all))
  y, y_sq, y_norm, r2_y = (rows_of(a, starts[1], block_y) for a in (
      y_all, y_sq_all, y_norm_all, r2_y_all))
  d2 = distances.sq_dist_block(x, x_sq, y, y_sq)  # Padding: +inf, in no ball.
  err = coef * (x_norm[:, None] + y_norm[None, :]) ** 2

  def decide(r2):  # (surely inside, possibly inside)
    slack = err + 4 * distances.UNIT_ROUNDOFF_32 * r2
    return d2 + slack < r2, d2 - slack <= r2

  sure_a, maybe_a = decide(r2_x[:, None])
  sure_b, maybe_b = decide(r2_y[None, :])
  sure_c, maybe_c = decide(r2_xa[:, None])
  undecided = ((maybe_a & ~sure_a) | (maybe_b & ~sure_b) |
               (maybe_c & ~sure_c))
  sure_a, sure_b, sure_c = (s & ~undecided for s in (sure_a, sure_b, sure_c))
  counts = jnp.sum(undecided, axis=1, dtype=jnp.int32)
  # Undecided pairs are rare: select rows first, then columns of those rows
  # only (top_k over the whole block costs as much as a third of its GEMM).
  _, rows = lax.top_k((counts > 0).astype(jnp.float32), max_rows)
  _, cols = lax.top_k(undecided[rows].astype(jnp.float32), max(capacity, 1))
  return (jnp.sum(sure_a, axis=0, dtype=jnp.int32), jnp.any(sure_a, axis=1),
          jnp.any(sure_b, axis=1), jnp.any(sure_c, axis=0), rows,
          counts[rows], cols, jnp.sum(counts > 0))


def ball_counts(x, y, radii_x, radii_y, radii_x_any=None, strict: bool = True,
                block_size: int = distances.DEFAULT_BLOCK_SIZE,
                capacity: int = AMBIGUOUS_CAPACITY, prepared=None,
                max_rows: int = AMBIGUOUS_ROWS):
  """Counts of x-balls containing y points and the reverse, exact float64.

  x: [N, D], y: [M, D]; radii_x: [N] >= 0, radii_y: [M] >= 0 (float64);
  radii_x_any: [N] >= 0, a second set of x radii (default radii_x).
  `strict`: a ball of radius r contains points at distance d < r (True, as
  the prdc package) or d <= r (False, as torch-fidelity).
  A block with a row of more than `capacity` undecided pairs is redone in
  float64 (see `_ball_block_float64`); one with more than `max_rows` rows
  of undecided pairs is rerun with room for all its rows.
  Returns a dict:
    y_in_x_balls: [M] int64, for each y_j the number of balls r_x[i]
      containing it;
    x_covered:    [N] bool, x_i's ball contains at least one y_j;
    x_in_y_balls: [N] bool, x_i lies in at least one ball of radius r_y[j];
    y_in_any_x_ball: [M] bool, y_j lies in some ball of radius radii_x_any[i].
  """
  if prepared is None:
    xx = distances.check_features("x", x)
    yy = distances.check_features("y", y)
    distances.check_same_dim("x", xx, "y", yy)
    px, py = distances.prepare(xx, yy, block_size)
  else:
    px, py = prepared
  bx, by = px.block, py.block
  radii_x = np.asarray(radii_x, np.float64)
  radii_y = np.asarray(radii_y, np.float64)
  radii_xa = radii_x if radii_x_any is None else np.asarray(radii_x_any,
                                                              np.float64)
  coef = distances.error_coefficient(px.x64.shape[1])
  coef64 = distances.error_coefficient(px.x64.shape[1],
                                       distances.UNIT_ROUNDOFF_64)
  pad = lambda r, p: jnp.asarray(np.concatenate(
      [r ** 2, np.zeros(p.num_blocks * p.block - p.n)]).astype(np.float32))
  r2x, r2y, r2xa = pad(radii_x, px), pad(radii_y, py), pad(radii_xa, px)
  y_in_x = np.zeros(py.n, np.int64)
  y_any = np.zeros(py.n, bool)
  x_cov = np.zeros(px.n, bool)
  x_in_y = np.zeros(px.n, bool)
  inside = (lambda d, r: d < r) if strict else (lambda d, r: d <= r)
  capacity = min(capacity, by)
  max_rows = max(1, min(max_rows, bx))

  def launch(i, j, rows=max_rows):
    starts = np.array([i * bx, j * by], np.int32)
    return _ball_block(px.x32, px.sq32, px.norm32, r2x, r2xa, py.x32, py.sq32,
                       py.norm32, r2y, starts, coef, block_x=bx, block_y=by,
                       capacity=capacity, max_rows=rows)

  def decide_pairs(rows, cols):  # Exact float64 distances, global indices.
    d = distances.pair_distances(px.x64, py.x64, rows, cols)
    hit = inside(d, radii_x[rows])
    np.add.at(y_in_x, cols[hit], 1)
    x_cov[rows[hit]] = True
    x_in_y[rows[inside(d, radii_y[cols])]] = True
    y_any[cols[inside(d, radii_xa[rows])]] = True

  blocks = [(i, j) for i in range(px.num_blocks) for j in range(py.num_blocks)]
  pair_rows, pair_cols = [], []
  pending = launch(*blocks[0])
  for n, (i, j) in enumerate(blocks):
    out = pending
    if n + 1 < len(blocks):  # Keep the device busy while the host works.
      pending = launch(*blocks[n + 1])
    out = jax.device_get(out)
    if out[-1] > max_rows:
      out = jax.device_get(launch(i, j, rows=bx))
    col_a, row_a, row_b, col_c, rows, counts, cols, _ = out
    ni, nj = min(bx, px.n - i * bx), min(by, py.n - j * by)
    gi, gj = i * bx, j * by
    if counts.max(initial=0) > capacity:
      # A row with more near-ties than slots: redo the block in float64
      # (GEMM and its own error bound); what even that cannot decide, exact
      # ties above all, is decided on exact pairwise differences.
      sure, undecided = _ball_block_float64(
          px, py, gi, ni, gj, nj, coef64, (radii_x[gi:gi + ni, None],
                                           radii_y[None, gj:gj + nj],
                                           radii_xa[gi:gi + ni, None]))
      a, b, c = sure
      y_in_x[gj:gj + nj] += a.sum(0)
      x_cov[gi:gi + ni] |= a.any(1)
      x_in_y[gi:gi + ni] |= b.any(1)
      y_any[gj:gj + nj] |= c.any(0)
      r, cl = np.nonzero(undecided)
      decide_pairs(r + gi, cl + gj)  # Here: such a block may hold many.
      continue
    y_in_x[gj:gj + nj] += col_a[:nj]
    x_cov[gi:gi + ni] |= row_a[:ni]
    x_in_y[gi:gi + ni] |= row_b[:ni]
    y_any[gj:gj + nj] |= col_c[:nj]
    used = counts > 0
    slot = np.arange(cols.shape[1])[None, :] < counts[used][:, None]
    pair_rows.append(np.repeat(rows[used], counts[used]) + gi)
    pair_cols.append(cols[used][slot] + gj)
  if pair_rows:
    decide_pairs(np.concatenate(pair_rows), np.concatenate(pair_cols))
  return dict(y_in_x_balls=y_in_x, x_covered=x_cov, x_in_y_balls=x_in_y,
              y_in_any_x_ball=y_any)


def _ball_block_float64(px, py, gi, ni, gj, nj, coef, radii):
  """One block's ball tests in float64: (sure, undecided).

  Rows gi..gi+ni of px against columns gj..gj+nj of py; radii: arrays that
  broadcast to [ni, nj]. The squared distances come from |x|^2 + |y|^2 - 2 x.y
  on centred data, which is not exact (not even for integer features, as
  the centre is not an integer): an exact tie d == r can land on either
  side. So each test is decided only where d2 is farther from r^2 than the
  GEMM's error bound plus the error of the exact path's own float64 sum
  (coef r^2 covers it, and r^2's and sqrt's roundings); sure[t] holds the
  pairs surely inside ball test t, undecided the pairs any test left open,
  to be decided on exact differences (`distances.pair_distances`) like the
  float32 ones.
  """
  xd = px.x64[gi:gi + ni] - px.centre
  yd = py.x64[gj:gj + nj] - py.centre
  xn, yn = px.norm[gi:gi + ni], py.norm[gj:gj + nj]
  d2 = (xn ** 2)[:, None] + (yn ** 2)[None, :] - 2 * (xd @ yd.T)
  err = coef * (xn[:, None] + yn[None, :]) ** 2
  sure, undecided = [], np.zeros((ni, nj), bool)
  for r in radii:
    r2 = r * r
    slack = err + 4 * coef * r2
    inside, maybe = d2 + slack < r2, d2 - slack <= r2
    sure.append(inside)
    undecided |= maybe & ~inside
  return [s & ~undecided for s in sure], undecided
