"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))).

Computed from classifier logits as torch-fidelity does: the images are
shuffled with `np.random.RandomState(seed).permutation(N)` (default seed
2020, torch-fidelity's), split into `num_splits` consecutive chunks
[i N / s, (i+1) N / s), and for each chunk
  IS_i = exp(mean_x sum_y p(y|x) (log p(y|x) - log mean_x' p(y|x'))),
reported as the mean and population std over chunks. float64 throughout.

torch-fidelity feeds it the FID Inception's logits *without* the fc bias
('logits_unbiased'); so does `gan.evaluation` (feature `inception_logits`).
IS measures ImageNet-class confidence and diversity: on brain MRI it says
little about quality, and it is reported only for comparability.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.special

DEFAULT_NUM_SPLITS = 10
DEFAULT_SEED = 2020  # torch-fidelity's rng_seed.


@dataclasses.dataclass(frozen=True)
class InceptionScoreResult:
  mean: float
  std: float          # Population std over splits (np.std), as torch-fidelity.
  num_splits: int


def inception_score(logits: np.ndarray, num_splits: int = DEFAULT_NUM_SPLITS,
                    shuffle: bool = True,
                    seed: int = DEFAULT_SEED) -> InceptionScoreResult:
  """Inception Score of logits [N, classes] (N >= num_splits).

  Raises:
    ValueError: fewer samples than splits.
  """
  logits = np.asarray(logits, np.float64)
  if logits.ndim != 2:
    raise ValueError(f"need [N, classes] logits, got {logits.shape}")
  n = logits.shape[0]
  if n < num_splits:
    raise ValueError(f"Inception Score with {num_splits} splits needs at least "
                     f"{num_splits} samples, got {n}")
  if shuffle:
    logits = logits[np.random.RandomState(seed).permutation(n)]
  log_p = scipy.special.log_softmax(logits, axis=1)
  p = np.exp(log_p)
  scores = []
  for i in range(num_splits):
    chunk = slice(i * n // num_splits, (i + 1) * n // num_splits)
    log_marginal = np.log(p[chunk].mean(axis=0, keepdims=True))
    kl = (p[chunk] * (log_p[chunk] - log_marginal)).sum(axis=1)
    scores.append(np.exp(kl.mean()))
  scores = np.asarray(scores)
  return InceptionScoreResult(mean=float(scores.mean()),
                              std=float(scores.std()), num_splits=num_splits)
