"""The paired interval and test against scipy on known inputs."""
import numpy as np
import pytest
from scipy import stats

from gan import significance


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_matches_scipy_ttest_rel(confidence):
  rng = np.random.default_rng(3)
  a, b = rng.normal(0.6, 0.05, 7), rng.normal(0.55, 0.05, 7)
  got = significance.paired_difference(a, b, confidence)
  want = stats.ttest_rel(a, b)
  low, high = want.confidence_interval(confidence_level=confidence)
  assert got["mean"] == pytest.approx(np.mean(a - b), rel=1e-12)
  assert got["t"] == pytest.approx(want.statistic, rel=1e-12)
  assert got["p"] == pytest.approx(want.pvalue, rel=1e-10)
  assert (got["low"], got["high"]) == (pytest.approx(low, rel=1e-12),
                                       pytest.approx(high, rel=1e-12))
  assert got["n"] == 7 and got["std"] == pytest.approx(np.std(a - b, ddof=1))


def test_hand_computed_case():
  # d = (1, 2, 3): mean 2, sd 1, se 1/sqrt(3), t = 2 sqrt(3), df 2;
  # t_{0.975, 2} = 4.302652729911275.
  got = significance.paired_difference([2, 4, 6], [1, 2, 3])
  assert got["t"] == pytest.approx(2 * np.sqrt(3))
  half = 4.302652729911275 / np.sqrt(3)
  assert got["low"] == pytest.approx(2 - half) and got["high"] == pytest.approx(2 + half)


def test_degenerate_inputs():
  one = significance.paired_difference([0.7], [0.5])
  assert one["mean"] == pytest.approx(0.2) and one["low"] is None and one["p"] is None
  same = significance.paired_difference([3.0, 5.0], [1.0, 3.0])
  assert same["low"] == same["high"] == 2.0 and same["p"] == 0.0
  with pytest.raises(ValueError, match="equal 1-D"):
    significance.paired_difference([1, 2], [1])
