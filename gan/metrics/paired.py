"""Paired metrics of image translation: MAE, PSNR and SSIM of translated
images against their targets, on the whole image and inside a foreground
mask.

Intensities: images in `value_range` (default [-1, 1], the pixel convention)
are mapped to [0, 1] first, so MAE is a fraction of the full intensity
range, PSNR is 10 log10(1 / MSE) dB at data range 1, and SSIM uses data
range 1. PSNR depends on this normalisation: compare it across papers only
at the same one (Dohmen et al., "Five pitfalls").

SSIM (Wang et al. 2004): an 11-tap Gaussian window with sigma 1.5, K1 =
0.01, K2 = 0.03, population (co)variances, per channel, over the 'valid'
window positions; the same number as scikit-image's
`structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)` and `piq.ssim` (the tests check
both definitions' numbers). Every metric is computed per image and then
averaged over the images (the PSNR of each image, not of the pooled MSE).

Inside the mask: MAE and MSE over the mask's pixels; SSIM averaged over the
windows centred on mask pixels. An image whose mask is empty is left out
of the masked means. The default mask is the target's foreground: pixels
above FOREGROUND_THRESHOLD of the range in any channel.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gan.errors import UserError
from gan.metrics import ms_ssim

WINDOW = 11
SIGMA = 1.5
# A fraction of the range: above the background noise of windowed MRI.
FOREGROUND_THRESHOLD = 0.05
# MSE floor: an exact copy scores 100 dB, not infinity (JSON has no inf).
MIN_MSE = 1e-10


def to_unit(images, value_range=(-1.0, 1.0)) -> np.ndarray:
  low, high = value_range
  return ((np.asarray(images, np.float64) - low) / (high - low)).astype(
      np.float32)


def foreground_mask(target_unit: np.ndarray,
                    threshold: float = FOREGROUND_THRESHOLD) -> np.ndarray:
  """[B, H, W] bool: pixels of [B, H, W, C] targets in [0, 1] above
  `threshold` in any channel."""
  return (np.asarray(target_unit) > threshold).any(axis=-1)


@jax.jit
def _ssim_map(x, y):
  window = jnp.asarray(ms_ssim.gaussian_window(WINDOW, SIGMA), x.dtype)
  ssim, _ = ms_ssim.ssim_maps(x, y, window, 1.0)
  return ssim


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """[B] mean of [B, H, W, C] values over each image's mask ([B, H, W]) and
  channels; nan where the mask is empty."""
  weights = np.broadcast_to(mask[..., None], values.shape).astype(np.float64)
  total = weights.sum(axis=(1, 2, 3))
  sums = (values * weights).sum(axis=(1, 2, 3))
  return np.divide(sums, total, out=np.full(len(values), np.nan),
                   where=total > 0)


def _psnr(mse: np.ndarray) -> np.ndarray:
  return 10.0 * np.log10(1.0 / np.maximum(mse, MIN_MSE))


def _check_size(height: int, width: int) -> None:
  if min(height, width) < WINDOW:
    raise UserError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels "
                    f"(its window); got {height}x{width}")


def paired_metrics(translated, target, mask: np.ndarray | None = None,
                   value_range=(-1.0, 1.0)) -> dict:
  """MAE, PSNR and SSIM of [B, H, W, C] translated images against targets,
  overall and inside `mask` ([B, H, W] bool; default the targets'
  foreground). Returns floats (means over images) and their per-image arrays
  under "per_image"."""
  x, y = to_unit(translated, value_range), to_unit(target, value_range)
  if x.ndim != 4 or x.shape != y.shape:
    raise UserError(f"paired metrics need translated and target images of "
                    f"one [B, H, W, C] shape; got {x.shape} and {y.shape}")
  _check_size(x.shape[1], x.shape[2])
  mask = foreground_mask(y) if mask is None else np.asarray(mask, bool)
  if mask.shape != x.shape[:3]:
    raise UserError(f"the foreground mask must be [B, H, W] = {x.shape[:3]}; "
                    f"got {mask.shape}")
  error = x.astype(np.float64) - y.astype(np.float64)
  ssim = np.asarray(_ssim_map(jnp.asarray(x), jnp.asarray(y)), np.float64)
  # Window centres: the valid SSIM map is the image cropped by WINDOW // 2.
  r = WINDOW // 2
  centre_mask = mask[:, r:mask.shape[1] - r, r:mask.shape[2] - r]
  everywhere = np.ones(x.shape[:3], bool)
  per_image = {
      "mae": _masked_mean(np.abs(error), everywhere),
      "psnr": _psnr(_masked_mean(error ** 2, everywhere)),
      "ssim": ssim.mean(axis=(1, 2, 3)),
      "mae_foreground": _masked_mean(np.abs(error), mask),
      "psnr_foreground": _psnr(_masked_mean(error ** 2, mask)),
      "ssim_foreground": _masked_mean(ssim, centre_mask),
  }
  result = {}
  for name, values in per_image.items():
    kept = values[~np.isnan(values)]
    result[name] = float(kept.mean()) if kept.size else None
  result.update(num_images=len(x), value_range=[0.0, 1.0],
                foreground_fraction=float(mask.mean()),
                # None where an image's mask is empty (JSON has no nan).
                per_image={k: [None if np.isnan(v) else float(v) for v in values]
                           for k, values in per_image.items()})
  return result
