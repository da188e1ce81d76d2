"""Geometry Score against gudhi used directly and piq's helpers, with the
same landmarks."""
import os

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gan import plots
from gan.errors import UserError
from gan.metrics import geometry_score as gs

gudhi = pytest.importorskip("gudhi")


def _circle(n, seed, noise=0.05, dim=6):
  rng = np.random.default_rng(seed)
  t = rng.uniform(0, 2 * np.pi, n)
  x = np.zeros((n, dim))
  x[:, 0], x[:, 1] = np.cos(t), np.sin(t)
  return x + noise * rng.standard_normal((n, dim))


def _blob(n, seed, dim=6):
  return np.random.default_rng(seed).standard_normal((n, dim)) * 0.5


def _direct_rlt(x, landmarks, gamma, i_max):
  """gudhi straight from scipy's distance table; RLT by interval sweep."""
  a = cdist(x, x[landmarks])
  order = np.argsort(a, axis=1)
  table = [[(int(l), float(a[w, l])) for l in order[w]] for w in range(len(x))]
  alpha_max = a.max() * gamma
  tree = gudhi.WitnessComplex(nearest_landmark_table=table).create_simplex_tree(
      max_alpha_square=alpha_max, limit_dimension=2)
  tree.persistence(homology_coeff_field=2)
  intervals = tree.persistence_intervals_in_dimension(1)
  rlt = np.zeros(i_max)
  ends = [(b, alpha_max if np.isinf(d) else d) for b, d in intervals]
  points = sorted({0.0, alpha_max, *[v for e in ends for v in e]})
  for lo, hi in zip(points[:-1], points[1:]):
    mid = (lo + hi) / 2
    alive = sum(b <= mid < d for b, d in ends)
    if alive < i_max:
      rlt[alive] += hi - lo
  return rlt / alpha_max


def test_rlt_matches_direct_gudhi_with_same_landmarks():
  x = _circle(150, 0)
  out = gs.mean_relative_living_times(x, num_runs=3, num_landmarks=24,
                                      gamma=0.1, i_max=10, seed=1)
  for run in range(3):
    want = _direct_rlt(x, out["landmark_indices"][run], 0.1, 10)
    np.testing.assert_allclose(out["rlt"][run], want, rtol=1e-9, atol=1e-12)
  assert out["rlt"][:, 1:].sum() > 0  # The circle's hole is seen.
  np.testing.assert_allclose(out["rlt"].sum(1), 1.0, rtol=1e-12)


def test_matches_piq_with_same_landmarks(monkeypatch):
  piq_gs = pytest.importorskip("piq.gs")
  x = _circle(120, 2)
  out = gs.mean_relative_living_times(x, num_runs=2, num_landmarks=20,
                                      gamma=0.08, i_max=10, seed=4)
  landmarks = iter(out["landmark_indices"])
  # piq draws its landmarks with np.random.choice: hand it ours.
  monkeypatch.setattr(piq_gs.np.random, "seed", lambda *a: None)
  monkeypatch.setattr(piq_gs.np.random, "choice",
                      lambda n, size: next(landmarks))
  for run in range(2):
    intervals, alpha_max = piq_gs.witness(x, sample_size=20, gamma=0.08)
    want = piq_gs.relative(intervals, alpha_max, i_max=10)
    np.testing.assert_allclose(out["rlt"][run], want, rtol=1e-9, atol=1e-12)


def test_relative_living_times_small_cases():
  np.testing.assert_array_equal(gs.relative_living_times([], 2.0, 4),
                                [1, 0, 0, 0])
  # One hole alive on [0.5, 1.5) of [0, 2], a second on [1, inf).
  rlt = gs.relative_living_times([[0.5, 1.5], [1.0, np.inf]], 2.0, 4)
  np.testing.assert_allclose(rlt, [0.25, 0.5, 0.25, 0.0])


def test_geometry_score_separates_circle_from_blob(tmp_path):
  path = os.path.join(tmp_path, "mrlt.png")
  circle = _circle(200, 5)
  same = gs.geometry_score(circle, _circle(200, 6), num_runs=8, gamma=0.1,
                           seed=0)
  diff = gs.geometry_score(circle, _blob(200, 7), num_runs=8, gamma=0.1,
                           seed=0)
  plots.plot_mrlt({"real": diff["mrlt_real"], "generated": diff["mrlt_fake"]},
                  path)
  assert diff["geometry_score"] > same["geometry_score"]
  assert diff["geometry_score_x1000"] == pytest.approx(
      1000 * diff["geometry_score"])
  want = np.sum((diff["mrlt_real"] - diff["mrlt_fake"]) ** 2)
  assert diff["geometry_score"] == pytest.approx(want, rel=1e-12)
  with open(path, "rb") as f:
    assert f.read(4) == b"\x89PNG"


def test_default_gamma_is_the_reference():
  assert gs.default_gamma(5000) == pytest.approx(1 / 128)
  assert (gs.DEFAULT_NUM_LANDMARKS, gs.DEFAULT_I_MAX) == (64, 100)


def test_bad_inputs_are_user_errors():
  with pytest.raises(UserError, match="feature dimension"):
    gs.geometry_score(np.zeros((10, 3)), np.zeros((10, 4)), num_runs=1)
  with pytest.raises(UserError, match="at least 2"):
    gs.geometry_score(np.zeros((1, 3)), np.zeros((10, 3)), num_runs=1)
