"""Feature statistics (mean, covariance) and their `.npz` files.

Files use pytorch-fid's `--save-stats` format: an `.npz` with `mu` [d] and
`sigma` [d, d] (float64), so files written here work with
`python -m pytorch_fid` and files written by it work here. We add optional
keys that pytorch-fid ignores: `num_samples` (N, so that small-N FID can be
flagged), `feature` (extractor name) and `convention` (how images were
preprocessed). Files are read with `allow_pickle=False`.
"""
from __future__ import annotations

import dataclasses
import io
import os

import numpy as np

from gan import storage
from gan.errors import UserError


@dataclasses.dataclass(frozen=True)
class Statistics:
  """Gaussian summary of features: mu [d], sigma [d, d] (float64)."""
  mu: np.ndarray
  sigma: np.ndarray
  num_samples: int | None = None   # None when the file does not say.
  feature: str = ""
  convention: str = ""

  @property
  def dims(self) -> int:
    return int(self.mu.shape[0])


def compute_statistics(features: np.ndarray, feature: str = "",
                       convention: str = "") -> Statistics:
  """Mean and covariance of features [N, d], as pytorch-fid computes them.

  `mu = mean(act, 0)`, `sigma = np.cov(act, rowvar=False)` on float64 copies
  (pytorch-fid stores activations in a float64 array before both).
  """
  x = np.asarray(features, np.float64)
  if x.ndim != 2 or x.shape[0] < 2:
    raise ValueError(f"need [N >= 2, d] features, got {x.shape}")
  return Statistics(mu=x.mean(axis=0), sigma=np.cov(x, rowvar=False),
                    num_samples=int(x.shape[0]), feature=feature,
                    convention=convention)


def save_statistics(path: str, stats: Statistics) -> None:
  """Writes pytorch-fid's format (`np.savez_compressed(mu=, sigma=)`) + N."""
  extra = {}
  if stats.num_samples is not None:
    extra["num_samples"] = np.int64(stats.num_samples)
  if stats.feature:
    extra["feature"] = np.str_(stats.feature)
  if stats.convention:
    extra["convention"] = np.str_(stats.convention)
  buffer = io.BytesIO()
  np.savez_compressed(buffer, mu=np.asarray(stats.mu, np.float64),
                      sigma=np.asarray(stats.sigma, np.float64), **extra)
  storage.write_bytes(path, buffer.getvalue(), "the statistics file")


def load_statistics(path: str, dims: int | None = None) -> Statistics:
  """Reads an `.npz` with `mu` and `sigma` (pytorch-fid's or ours).

  Args:
    path: the file.
    dims: if given, the feature dimension the caller needs.
  Raises:
    UserError: a missing or unreadable file, missing keys, inconsistent
      shapes, or a dimension other than `dims`.
  """
  if not os.path.isfile(path):
    raise UserError(f"statistics file {path} does not exist; write one with "
                    f"`python -m gan.evaluate --save_statistics=...` or "
                    f"`python -m pytorch_fid --save-stats`")
  try:
    with np.load(path, allow_pickle=False) as data:
      contents = {k: data[k] for k in data.files}
  except Exception as e:  # zipfile, pickle refusal, truncated files...
    raise UserError(f"cannot read statistics file {path} ({type(e).__name__}: "
                    f"{e}); it must be an .npz with 'mu' and 'sigma'") from None
  missing = [k for k in ("mu", "sigma") if k not in contents]
  if missing:
    raise UserError(f"statistics file {path} has no {' or '.join(missing)} "
                    f"(keys: {sorted(contents)}); it must be pytorch-fid's "
                    f"--save-stats format")
  mu = np.asarray(contents["mu"], np.float64)
  sigma = np.asarray(contents["sigma"], np.float64)
  if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
    raise UserError(f"statistics file {path} has mu {mu.shape} and sigma "
                    f"{sigma.shape}; they must be [d] and [d, d]")
  if dims is not None and mu.shape[0] != dims:
    raise UserError(f"statistics file {path} holds {mu.shape[0]}-d features "
                    f"but the chosen feature is {dims}-d; recompute it with "
                    f"the same --feature (pool3 statistics are 2048-d)")
  num = contents.get("num_samples")
  return Statistics(
      mu=mu, sigma=sigma,
      num_samples=int(num) if num is not None else None,
      feature=str(contents["feature"]) if "feature" in contents else "",
      convention=(str(contents["convention"]) if "convention" in contents
                  else ""))
