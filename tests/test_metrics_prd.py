"""PRD: the curve arithmetic against REFERENCE §4's toy case and an
independent numpy computation, k-means against scikit-learn, and the plot."""
import os

import numpy as np
import pytest

from gan import plots
from gan.errors import UserError
from gan.metrics import prd


def _numpy_prd(eval_dist, ref_dist, num_angles, eps=1e-10):
  # Written out loop by loop, independently of the vectorised version.
  angles = np.linspace(eps, np.pi / 2 - eps, num_angles)
  precision, recall = [], []
  for angle in angles:
    slope = np.tan(angle)
    p = sum(min(slope * r, e) for e, r in zip(eval_dist, ref_dist))
    precision.append(min(max(p, 0.0), 1.0))
    recall.append(min(max(p / slope, 0.0), 1.0))
  return np.array(precision), np.array(recall)


def test_reference_toy_case():
  curve = prd.prd_from_histograms([0.5, 0.5], [1.0, 0.0], num_angles=11)
  assert curve["precision"][5] == pytest.approx(0.5, rel=1e-9)
  assert curve["recall"][5] == pytest.approx(0.5, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_curve_matches_independent_numpy(seed):
  rng = np.random.default_rng(seed)
  eval_dist = rng.random(20)
  ref_dist = rng.random(20)
  eval_dist /= eval_dist.sum()
  ref_dist /= ref_dist.sum()
  curve = prd.prd_from_histograms(eval_dist, ref_dist)
  p, r = _numpy_prd(eval_dist, ref_dist, 1001)
  np.testing.assert_allclose(curve["precision"], p, rtol=1e-12)
  np.testing.assert_allclose(curve["recall"], r, rtol=1e-12)
  f8 = max((1 + 64) * a * b / (64 * a + b + 1e-10) for a, b in zip(p, r))
  f18 = max((1 + 1 / 64) * a * b / (a / 64 + b + 1e-10) for a, b in zip(p, r))
  assert prd.max_f_beta(p, r, 8) == pytest.approx(f8, rel=1e-12)
  assert prd.max_f_beta(p, r, 1 / 8) == pytest.approx(f18, rel=1e-12)


def _blobs(seed, counts, centres, dim=6):
  rng = np.random.default_rng(seed)
  return np.concatenate([c + 0.05 * rng.standard_normal((n, dim))
                         for n, c in zip(counts, centres)])


def test_kmeans_finds_separated_clusters_like_sklearn():
  from sklearn.cluster import KMeans
  import jax
  rng = np.random.default_rng(7)
  centres = rng.standard_normal((5, 6)) * 10
  x = _blobs(1, [40, 30, 50, 20, 60], centres).astype(np.float32)
  ours = np.asarray(prd.kmeans_labels(jax.random.PRNGKey(0), x, 5, 3, 100))
  theirs = KMeans(5, n_init=3, random_state=0).fit(x).labels_
  # Same partition up to renaming the clusters.
  pairs = set(zip(ours.tolist(), theirs.tolist()))
  assert len(pairs) == 5


def test_prd_end_to_end_matches_histogram_computation(tmp_path):
  rng = np.random.default_rng(3)
  centres = rng.standard_normal((4, 6)) * 10
  # Real: all four modes; generated: only the first two (mode dropping).
  real = _blobs(4, [50, 50, 50, 50], centres)
  fake = _blobs(5, [100, 100, 0, 0], centres)
  path = os.path.join(tmp_path, "prd.png")
  out = prd.prd(real, fake, num_clusters=4, num_runs=2)
  plots.plot_prd({"generated": (out["precision"], out["recall"])}, path)
  # With separated modes every run recovers the modes: ref [.25]*4,
  # eval [.5, .5, 0, 0] (in some cluster order).
  p, r = _numpy_prd([0.5, 0.5, 0, 0], [0.25] * 4, 1001)
  np.testing.assert_allclose(out["precision"], p, rtol=1e-12, atol=1e-15)
  np.testing.assert_allclose(out["recall"], r, rtol=1e-12, atol=1e-15)
  # Precision is perfect, recall capped at half the modes.
  assert out["f_1_8"] > 0.95 and out["f_8"] < 0.55
  assert out["f_8"] == pytest.approx(prd.max_f_beta(p, r, 8), rel=1e-12)
  assert (out["num_real"], out["num_fake"], out["num_runs"]) == (200, 200, 2)
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp")] == []


def test_bad_inputs_are_user_errors():
  x = np.zeros((5, 3))
  with pytest.raises(UserError, match="20 clusters"):
    prd.prd(x, x)
  with pytest.raises(UserError, match="feature dimension"):
    prd.prd(np.zeros((30, 3)), np.zeros((30, 4)))
