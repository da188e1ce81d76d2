"""CrossLID against an independent numpy/scipy computation."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gan.errors import UserError
from gan.metrics import lid


def _numpy_cross_lid(real, fake, k, batch_size, seed, off_by_one):
  rng = np.random.RandomState(seed)
  subset = min(batch_size, len(fake))
  values = []
  for start in range(0, len(real), batch_size):
    chosen = rng.choice(len(fake), subset, replace=False)
    d = np.sort(cdist(real[start:start + batch_size], fake[chosen]), axis=1)
    for row in d:
      if off_by_one:  # k - 1 distances, eps added twice to the last.
        r = row[:k - 1] + 1e-10
        values.append(-(k - 1) / np.sum(np.log(r / (r[-1] + 1e-10))))
      else:
        r = row[:k] + 1e-10
        values.append(-1.0 / np.mean(np.log(r / r[-1])))
  return np.array(values)


@pytest.mark.parametrize("off_by_one", [False, True])
def test_matches_numpy_formula(off_by_one):
  rng = np.random.default_rng(0)
  real = rng.standard_normal((70, 12))
  fake = rng.standard_normal((90, 12)) * 1.2
  got = lid.cross_lid(real, fake, k=10, batch_size=32, seed=3,
                      reference_off_by_one=off_by_one, block_size=64)
  want = _numpy_cross_lid(real, fake, 10, 32, 3, off_by_one)
  np.testing.assert_allclose(got["lid"], want, rtol=1e-9)
  assert got["cross_lid"] == pytest.approx(want.mean(), rel=1e-9)
  assert got["std"] == pytest.approx(want.std(), rel=1e-9)
  assert (got["k"], got["batch_size"], got["subset_size"]) == (10, 32, 32)


def test_defaults_are_the_reference():
  assert (lid.DEFAULT_K, lid.DEFAULT_BATCH_SIZE) == (100, 1000)


def test_estimates_intrinsic_dimension():
  # Data on a 3-d linear subspace of R^20: the MLE is close to 3.
  rng = np.random.default_rng(1)
  basis = rng.standard_normal((3, 20))
  real = rng.standard_normal((200, 3)) @ basis
  fake = rng.standard_normal((1000, 3)) @ basis
  got = lid.cross_lid(real, fake, k=20, batch_size=1000)
  assert 2.3 < got["cross_lid"] < 3.7
  assert got["subset_size"] == 1000


def test_too_few_generated_samples_is_a_user_error():
  x = np.zeros((10, 4))
  with pytest.raises(UserError, match="lower k"):
    lid.cross_lid(x, np.ones((50, 4)), k=100)
  with pytest.raises(UserError, match="feature dimension"):
    lid.cross_lid(x, np.ones((50, 5)), k=5)
