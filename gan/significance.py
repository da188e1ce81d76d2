"""Paired comparison of two arms measured on the same seeds.

Seed s of arm A and seed s of arm B share the classifier's initialisation and
batch order, so their difference is the unit of evidence: the mean paired
difference, its Student-t confidence interval and the two-sided paired t-test
(the same numbers as `scipy.stats.ttest_rel`, which the tests check).
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def paired_difference(a, b, confidence: float = 0.95) -> dict:
  """a - b, paired by position. Returns mean, std (ddof=1), the t interval
  [low, high] at `confidence`, t, p (two-sided) and n.

  With one pair there is no spread and no interval (low/high/t/p are None).
  With identical differences the interval is the point itself.
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.shape != b.shape or a.ndim != 1:
    raise ValueError(f"paired values need equal 1-D shapes; got {a.shape} "
                     f"and {b.shape}")
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1); got {confidence}")
  d = a - b
  n = len(d)
  mean = float(d.mean())
  result = {"mean": mean, "n": n, "confidence": confidence,
            "std": None, "low": None, "high": None, "t": None, "p": None}
  if n < 2:
    return result
  std = float(d.std(ddof=1))
  se = std / np.sqrt(n)
  result["std"] = std
  if se == 0.0:
    # Every seed moved by the same amount: no uncertainty left to estimate.
    result.update(low=mean, high=mean, t=None, p=0.0 if mean else 1.0)
    return result
  df = n - 1
  half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
  t = mean / se
  result.update(low=mean - half, high=mean + half, t=float(t),
                p=float(2 * stats.t.sf(abs(t), df)))
  return result
