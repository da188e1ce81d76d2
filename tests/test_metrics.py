"""Metrics against the reference implementations, on the same fixed features.

FID vs pytorch-fid's `calculate_frechet_distance`, KID vs torch-fidelity and
clean-fid, IS vs torch-fidelity: relative differences <= 1e-6 (FID, KID) and
<= 1e-5 (IS). Statistics files both ways with pytorch-fid.
"""
import numpy as np
import pytest
import torch

from gan.errors import UserError
from gan.metrics import fid
from gan.metrics import inception_score
from gan.metrics import kid
from gan.metrics import statistics

FID_KID_RTOL = 1e-6
IS_RTOL = 1e-5


def _features(n, d, seed, shift=0.0):
  """Correlated, non-negative, pool3-like features [n, d] (float32)."""
  rng = np.random.RandomState(seed)
  mixing = rng.randn(d, d) / np.sqrt(d)
  x = np.abs(rng.randn(n, d) @ mixing + shift + 0.3 * rng.rand(d))
  return x.astype(np.float32)


def _relative(a, b):
  return abs(a - b) / abs(b)


@pytest.mark.parametrize("n1,n2,d", [
    (600, 500, 128),   # N > d: full-rank covariances.
    (90, 70, 256),     # N < d: rank-deficient, the nuclear-norm form.
])
def test_fid_matches_pytorch_fid(n1, n2, d):
  from pytorch_fid.fid_score import calculate_frechet_distance
  x, y = _features(n1, d, 0), _features(n2, d, 1, shift=0.2)
  # pytorch-fid keeps activations in a float64 array.
  x64, y64 = x.astype(np.float64), y.astype(np.float64)
  mu1, sigma1 = x64.mean(0), np.cov(x64, rowvar=False)
  mu2, sigma2 = y64.mean(0), np.cov(y64, rowvar=False)
  reference = calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
  assert reference > 1.0
  from_statistics = fid.frechet_distance(mu1, sigma1, mu2, sigma2)
  from_features = fid.frechet_distance_from_features(x, y)
  mixed = fid.frechet_distance_features_to_statistics(x, mu2, sigma2)
  for value in (from_statistics, from_features, mixed):
    assert _relative(value, reference) <= FID_KID_RTOL, (value, reference)


def test_fid_of_a_set_with_itself_is_zero():
  x = _features(300, 32, 2)
  mu, sigma = x.mean(0).astype(np.float64), np.cov(x, rowvar=False)
  assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-9
  assert abs(fid.frechet_distance_from_features(x, x)) < 1e-9


def test_fid_rejects_mismatched_dimensions():
  with pytest.raises(ValueError, match="different dimensions"):
    fid.frechet_distance(np.zeros(4), np.eye(4), np.zeros(3), np.eye(3))
  with pytest.raises(ValueError, match="N >= 2"):
    fid.frechet_distance_from_features(np.zeros((1, 4)), np.zeros((5, 4)))


def _torch_fidelity_kid(x, y, subset_size, seed=2020):
  from torch_fidelity.metric_kid import kid_features_to_metric
  result = kid_features_to_metric(
      torch.from_numpy(x), torch.from_numpy(y), kid_subsets=100,
      kid_subset_size=subset_size, kid_kernel="poly", kid_kernel_poly_degree=3,
      kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1, rng_seed=seed,
      verbose=False)
  return (result["kernel_inception_distance_mean"],
          result["kernel_inception_distance_std"])


@pytest.mark.parametrize("n1,n2,subset_size", [
    (300, 260, 100),   # Subsets smaller than the sets.
    (40, 25, 1000),    # Small sets: the subset size adapts to 25.
])
def test_kid_matches_torch_fidelity(n1, n2, subset_size):
  # float64 in both: KID is a small difference of large kernel sums.
  x = _features(n1, 64, 3).astype(np.float64)
  y = _features(n2, 64, 4, shift=0.1).astype(np.float64)
  ours = kid.kernel_inception_distance(x, y, subset_size=subset_size)
  used = min(subset_size, n1, n2)
  assert ours.subset_size == used and ours.num_subsets == 100
  mean, std = _torch_fidelity_kid(x, y, used)
  assert abs(mean) > 1e-3 and std > 0
  assert _relative(ours.mean, mean) <= FID_KID_RTOL
  assert _relative(ours.std, std) <= FID_KID_RTOL


def test_kid_matches_clean_fid():
  from cleanfid import fid as clean_fid
  x = _features(200, 64, 5).astype(np.float64)
  y = _features(150, 64, 6, shift=0.1).astype(np.float64)
  np.random.seed(11)  # clean-fid draws from NumPy's global generator...
  reference = clean_fid.kernel_distance(x, y, num_subsets=100,
                                        max_subset_size=120)
  # ... second set first; the unbiased MMD is symmetric in the two sets.
  ours = kid.kernel_inception_distance(y, x, subset_size=120, seed=11)
  assert abs(reference) > 1e-3
  assert _relative(ours.mean, reference) <= FID_KID_RTOL


def test_kid_without_precomputed_gram_matrices(monkeypatch):
  x, y = _features(120, 32, 7), _features(100, 32, 8, shift=0.1)
  with_gram = kid.kernel_inception_distance(x, y, subset_size=50)
  monkeypatch.setattr(kid, "_MAX_GRAM_ENTRIES", 0)
  per_subset = kid.kernel_inception_distance(x, y, subset_size=50)
  assert _relative(per_subset.mean, with_gram.mean) <= 1e-10
  assert _relative(per_subset.std, with_gram.std) <= 1e-10


def test_kid_needs_two_samples():
  with pytest.raises(ValueError, match="at least 2"):
    kid.kernel_inception_distance(np.zeros((1, 4)), np.zeros((5, 4)))


@pytest.mark.parametrize("n", [1000, 95])  # 95: splits of unequal size.
def test_inception_score_matches_torch_fidelity(n):
  from torch_fidelity.metric_isc import isc_features_to_metric
  rng = np.random.RandomState(n)
  logits = (3 * rng.randn(n, 1008) + 2 * rng.randn(1008)).astype(np.float32)
  reference = isc_features_to_metric(torch.from_numpy(logits), splits=10,
                                     shuffle=True, rng_seed=2020)
  ours = inception_score.inception_score(logits)
  assert ours.mean > 1.5
  assert _relative(ours.mean, reference["inception_score_mean"]) <= IS_RTOL
  assert _relative(ours.std, reference["inception_score_std"]) <= IS_RTOL


def test_inception_score_needs_a_sample_per_split():
  with pytest.raises(ValueError, match="at least 10"):
    inception_score.inception_score(np.zeros((9, 1008)))


def test_statistics_files_both_ways_with_pytorch_fid(tmp_path):
  from pytorch_fid.fid_score import compute_statistics_of_path
  x = _features(50, 16, 9)
  ours = statistics.compute_statistics(x, feature="inception",
                                       convention="test")
  np.testing.assert_array_equal(ours.mu, x.astype(np.float64).mean(0))
  np.testing.assert_array_equal(ours.sigma,
                                np.cov(x.astype(np.float64), rowvar=False))
  # Ours -> pytorch-fid (it reads `mu` and `sigma` from any .npz path).
  path = str(tmp_path / "ours.npz")
  statistics.save_statistics(path, ours)
  mu, sigma = compute_statistics_of_path(path, None, 50, 16, "cpu")
  np.testing.assert_array_equal(mu, ours.mu)
  np.testing.assert_array_equal(sigma, ours.sigma)
  loaded = statistics.load_statistics(path)
  assert (loaded.num_samples, loaded.feature, loaded.convention) == (
      50, "inception", "test")
  # pytorch-fid's --save-stats format -> ours.
  theirs = str(tmp_path / "theirs.npz")
  np.savez_compressed(theirs, mu=mu, sigma=sigma)
  loaded = statistics.load_statistics(theirs, dims=16)
  np.testing.assert_array_equal(loaded.sigma, sigma)
  assert loaded.num_samples is None


def test_statistics_file_errors(tmp_path):
  path = str(tmp_path / "stats.npz")
  np.savez(path, mu=np.zeros(64), sigma=np.eye(64))
  with pytest.raises(UserError, match="64-d features but the chosen feature "
                     "is 2048-d"):
    statistics.load_statistics(path, dims=2048)
  np.savez(path, mu=np.zeros(4))
  with pytest.raises(UserError, match="has no sigma"):
    statistics.load_statistics(path)
  np.savez(path, mu=np.zeros(4), sigma=np.eye(3))
  with pytest.raises(UserError, match=r"must be \[d\] and \[d, d\]"):
    statistics.load_statistics(path)
  with open(path, "wb") as f:
    f.write(b"not a zip file")
  with pytest.raises(UserError, match="cannot read statistics file"):
    statistics.load_statistics(path)
  with pytest.raises(UserError, match="does not exist"):
    statistics.load_statistics(str(tmp_path / "absent.npz"))
