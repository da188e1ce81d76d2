"""Memorisation audit: ratios against a brute-force computation, copies
found, and the PNG grid."""
import os

import numpy as np
import pytest

from gan import plots
from gan.errors import UserError
from gan.metrics import distances
from gan.metrics import memorization


def _images(n, seed, size=8):
  return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 1))


def test_ratios_match_brute_force_and_find_copies(tmp_path):
  train = _images(40, 0)
  generated = _images(12, 1)
  generated[3] = train[7]                      # An exact copy.
  generated[5] = train[2] + 1e-3               # A near copy.
  path = os.path.join(tmp_path, "memorisation.png")
  out = memorization.memorization_audit(generated, train, num_shown=4,
                                        block_size=16)
  plots.plot_memorization(out, generated, train, path)
  g = generated.reshape(12, -1)
  t = train.reshape(40, -1)
  d_gt = distances.pairwise_distances(g, t)
  d_tt = distances.pairwise_distances(t)
  np.fill_diagonal(d_tt, np.inf)
  nearest = d_gt.argmin(1)
  want = d_gt.min(1) / d_tt.min(1)[nearest]
  np.testing.assert_array_equal(out["nearest_training_index"], nearest)
  np.testing.assert_allclose(out["ratio"], want, rtol=1e-12)
  assert out["ratio"][3] == 0.0 and out["ratio"][5] < 0.01
  assert list(out["closest_generated"][:2]) == [3, 5]
  assert out["fraction_below_0.1"] == pytest.approx(2 / 12)
  assert out["min_ratio"] == 0.0
  assert out["median_ratio"] == pytest.approx(np.median(want), rel=1e-12)
  with open(path, "rb") as f:
    assert f.read(4) == b"\x89PNG"


def test_duplicate_training_images_give_zero_or_inf():
  train = np.concatenate([np.ones((2, 5)), np.zeros((3, 5)) + 7.0])
  generated = np.array([np.ones(5), np.ones(5) * 1.5])
  out = memorization.memorization_audit(generated, train)
  # Training sample 0 has a duplicate (radius 0): a copy is ratio 0, anything
  # else nearest to it is inf.
  assert out["ratio"][0] == 0.0 and np.isinf(out["ratio"][1])


def test_bad_inputs_are_user_errors():
  with pytest.raises(UserError, match="feature dimension"):
    memorization.memorization_audit(np.zeros((3, 4)), np.zeros((5, 6)))
  with pytest.raises(UserError, match="at least 2"):
    memorization.memorization_audit(np.zeros((3, 4)), np.zeros((1, 4)))
  with pytest.raises(UserError, match="generated_images"):
    plots.plot_memorization(
        memorization.memorization_audit(np.zeros((3, 4)), np.ones((5, 4))),
        np.zeros((3, 4)), np.ones((5, 4)), "/tmp/unused.png")
