"""Fréchet distance between Gaussians fitted to features (FID).

  FID = |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr sqrt(S1 S2)

All arithmetic is float64. Two exact ways to get Tr sqrt(S1 S2), both without
a general (non-symmetric) matrix square root:

* Symmetric form (from statistics): factor S1 = F F^T (pivoted Cholesky, which
  also handles a singular S1); S1 S2 = F F^T S2 has the same non-zero
  eigenvalues as the symmetric PSD matrix F^T S2 F, so Tr sqrt(S1 S2) is the
  sum of the square roots of *its* eigenvalues (`eigvalsh`). pytorch-fid
  instead runs `scipy.linalg.sqrtm` on the non-symmetric S1 S2, which is
  several times slower and can return complex round-off.
* Nuclear-norm form (from features, for N < d): with A = (X - mu) / sqrt(N-1)
  so that S = A^T A, Tr sqrt(S1 S2) is the nuclear norm (sum of singular
  values) of the N1 x N2 matrix A1 A2^T. With a few hundred images this is a
  small problem instead of a 2048 x 2048 one, and it never forms the
  rank-deficient covariances.

With N < d the covariance is rank-deficient and FID is biased upward (it
depends strongly on N): compare numbers only at equal N, and prefer KID for
small sets.
"""
from __future__ import annotations

import contextlib

import numpy as np
import scipy.linalg

try:  # Declared in setup.py; without it BLAS keeps its own thread count.
  from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
  threadpool_limits = None

# Statistics with fewer samples than this are flagged as unstable for the
# usual 2048-d features (the covariance is then rank-deficient).
MIN_STABLE_SAMPLES = 2048


def _one_blas_thread():
  """Runs LAPACK on one thread (a context manager).

  The factorisations below are sequences of many small BLAS calls, each a
  synchronisation point for BLAS threads. On this project's 2-core machine,
  shared with other jobs, two OpenBLAS threads made the d = 2048 distance
  12x slower than one (16.9 s against 1.4 s, BENCHMARKS.md); on an idle
  machine one thread costs little.
  """
  if threadpool_limits is None:
    return contextlib.nullcontext()
  return threadpool_limits(limits=1, user_api="blas")


def _sum_sqrt_eigvals(symmetric: np.ndarray) -> float:
  """sum_i sqrt(max(lambda_i, 0)) over the eigenvalues of a symmetric matrix
  (its lower triangle is read)."""
  eigenvalues = scipy.linalg.eigvalsh(symmetric, overwrite_a=True,
                                      check_finite=False, lower=True)
  # Round-off can make zero eigenvalues slightly negative.
  return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """Tr sqrt(sigma1 @ sigma2) for two covariance matrices [d, d] (float64).

  LAPACK's pivoted Cholesky (dpstrf) factors sigma1 = P L L^T P^T and stops
  at its numerical rank r (zeroing the rest), so a singular covariance (fewer
  samples than dimensions) is exact. dsygst then forms the symmetric
  L^T (P^T sigma2 P) L in d^3 flops (it uses both the symmetry and the
  triangle), whose eigenvalues are those of sigma1 sigma2. About 2.7 d^3
  flops in all, against ~25 d^3 (Schur form, complex arithmetic) for sqrtm.
  """
  sigma1 = np.asarray(sigma1, np.float64)
  sigma2 = np.asarray(sigma2, np.float64)
  with _one_blas_thread():
    factor, pivots, rank, info = scipy.linalg.lapack.dpstrf(
        sigma1, lower=1, tol=-1.0)
    if info < 0:
      raise ValueError(f"dpstrf: illegal argument {-info}")
    factor = np.tril(factor)
    factor[:, rank:] = 0.0  # Beyond the rank dpstrf leaves the residual.
    order = pivots - 1
    permuted = sigma2[np.ix_(order, order)]
    product, info = scipy.linalg.lapack.dsygst(permuted, factor, itype=2,
                                               lower=1, overwrite_a=1)
    if info != 0:
      raise ValueError(f"dsygst failed with info={info}")
    # dsygst writes the lower triangle only; eigvalsh reads the lower one.
    return _sum_sqrt_eigvals(product)


def _check_pair(mu1, sigma1, mu2, sigma2):
  mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
  mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
  sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  d = mu1.shape[0]
  if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
    raise ValueError(
        f"statistics of different dimensions: mu {mu1.shape} vs {mu2.shape}, "
        f"sigma {sigma1.shape} vs {sigma2.shape}")
  if not all(np.isfinite(a).all() for a in (mu1, mu2, sigma1, sigma2)):
    raise ValueError("statistics contain NaN or infinity")
  return mu1, sigma1, mu2, sigma2


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """FID from statistics, by the symmetric eigendecomposition form.

  Args:
    mu1, mu2: [d] feature means.
    sigma1, sigma2: [d, d] feature covariances (`np.cov(x, rowvar=False)`).
  Returns:
    The Fréchet distance (>= 0 up to round-off), as a Python float.
  """
  mu1, sigma1, mu2, sigma2 = _check_pair(mu1, sigma1, mu2, sigma2)
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
               - 2.0 * trace_sqrt_product(sigma1, sigma2))


def _centered(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(mu [d], A [N, d]) with A^T A = np.cov(features, rowvar=False)."""
  x = np.asarray(features, np.float64)
  if x.ndim != 2 or x.shape[0] < 2:
    raise ValueError(f"need [N >= 2, d] features, got {x.shape}")
  mu = x.mean(axis=0)
  return mu, (x - mu) / np.sqrt(x.shape[0] - 1)


def frechet_distance_from_features(features1: np.ndarray,
                                   features2: np.ndarray) -> float:
  """FID between two feature sets [N1, d] and [N2, d] (any float dtype).

  Uses the nuclear-norm form when either set has fewer samples than
  dimensions, the symmetric form of the covariances otherwise. The same value
  as `frechet_distance(*statistics(f1), *statistics(f2))` up to round-off.
  """
  mu1, a1 = _centered(features1)
  mu2, a2 = _centered(features2)
  if a1.shape[1] != a2.shape[1]:
    raise ValueError(f"features of different dimensions: {a1.shape[1]} vs "
                     f"{a2.shape[1]}")
  d = a1.shape[1]
  diff = mu1 - mu2
  traces = np.sum(a1 * a1) + np.sum(a2 * a2)
  if min(a1.shape[0], a2.shape[0]) < d:
    cross = a1 @ a2.T
    with _one_blas_thread():
      singular_values = scipy.linalg.svdvals(cross, overwrite_a=True,
                                             check_finite=False)
    trace_sqrt = float(singular_values.sum())
  else:
    trace_sqrt = trace_sqrt_product(a1.T @ a1, a2.T @ a2)
  return float(diff @ diff + traces - 2.0 * trace_sqrt)


def frechet_distance_features_to_statistics(features: np.ndarray,
                                            mu: np.ndarray,
                                            sigma: np.ndarray) -> float:
  """FID between features [N, d] and statistics (mu [d], sigma [d, d]).

  With N < d, Tr sqrt(S1 S2) = sum sqrt(eig(A S2 A^T)) is an N x N problem.
  """
  mu1, a1 = _centered(features)
  d = a1.shape[1]
  mu2 = np.asarray(mu, np.float64)
  sigma2 = np.asarray(sigma, np.float64)
  if mu2.shape != (d,) or sigma2.shape != (d, d):
    raise ValueError(f"statistics of dimension {mu2.shape} do not match "
                     f"features of dimension {d}")
  diff = mu1 - mu2
  if a1.shape[0] < a1.shape[1]:
    with _one_blas_thread():
      trace_sqrt = _sum_sqrt_eigvals(a1 @ sigma2 @ a1.T)
  else:
    trace_sqrt = trace_sqrt_product(a1.T @ a1, sigma2)
  return float(diff @ diff + np.sum(a1 * a1) + np.trace(sigma2)
               - 2.0 * trace_sqrt)
