"""MS-SSIM diversity: mean MS-SSIM over pairs of generated images.

Lower means more diverse (1 for identical pairs); compare with the same
number on pairs of real images. MS-SSIM (Wang et al. 2003) as in
pytorch-msssim: images scaled to [0, 1] (data_range 1; the luminance term is
not shift-invariant, so [-1, 1] inputs are mapped first), a Gaussian window
(sigma 1.5, 'valid' filtering, separable), K1 = 0.01, K2 = 0.03, five scales
with weights (.0448, .2856, .3001, .2363, .1333), 2x2 average pooling between
scales (zero padding of odd sizes, counted in the mean), contrast-structure
terms clipped at 0 (ReLU) and the product over scales per channel, then the
mean over channels.

The window adapts to the resolution: the 11-pixel window of the reference
needs images larger than (11 - 1) * 2^4 = 160 pixels, so the window is the
largest odd size <= 11 with (size - 1) * 2^(scales - 1) < the smaller side:
3 at 64x64, 7 at 128x128, 11 from 161 pixels up.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan.errors import UserError

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
DEFAULT_WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
DEFAULT_NUM_PAIRS = 1000


def window_size_for(height: int, width: int, num_scales: int = len(WEIGHTS),
                    max_window: int = DEFAULT_WINDOW) -> int:
  """Largest odd window <= max_window that fits all scales (see docstring)."""
  side = min(height, width)
  size = max_window if max_window % 2 else max_window - 1
  while size >= 3 and (size - 1) * 2 ** (num_scales - 1) >= side:
    size -= 2
  if size < 3:
    raise UserError(
        f"images of {height}x{width} are too small for {num_scales}-scale "
        f"MS-SSIM (need more than {2 * 2 ** (num_scales - 1)} pixels per side)"
        f"; use larger images")
  return size


def gaussian_window(size: int, sigma: float = SIGMA) -> np.ndarray:
  coords = np.arange(size, dtype=np.float64) - size // 2
  g = np.exp(-coords ** 2 / (2 * sigma ** 2))
  return g / g.sum()


def _filter(x, window):
  """Separable 'valid' filtering of [B, H, W, C] along H then W."""
  size = window.shape[0]
  h = sum(window[i] * x[:, i:x.shape[1] - size + 1 + i] for i in range(size))
  return sum(window[i] * h[:, :, i:h.shape[2] - size + 1 + i]
             for i in range(size))


def ssim_maps(x, y, window, data_range):
  """SSIM and contrast-structure maps of [B, H, W, C] pairs, one value per
  'valid' window position: [B, H - w + 1, W - w + 1, C] each."""
  c1 = (K1 * data_range) ** 2
  c2 = (K2 * data_range) ** 2
  mu_x, mu_y = _filter(x, window), _filter(y, window)
  sxx = _filter(x * x, window) - mu_x ** 2
  syy = _filter(y * y, window) - mu_y ** 2
  sxy = _filter(x * y, window) - mu_x * mu_y
  cs = (2 * sxy + c2) / (sxx + syy + c2)
  ssim = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * cs
  return ssim, cs


def _ssim_terms(x, y, window, data_range):
  ssim, cs = ssim_maps(x, y, window, data_range)
  return ssim.mean(axis=(1, 2)), cs.mean(axis=(1, 2))  # [B, C] each.


def _avg_pool(x):
  pad_h, pad_w = x.shape[1] % 2, x.shape[2] % 2
  x = jnp.pad(x, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)))
  s = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1),
                            "VALID")
  return s / 4.0


@functools.partial(jax.jit, static_argnames=("window_size",))
def ms_ssim_pairs(x, y, window_size: int, data_range: float = 1.0):
  """MS-SSIM per pair: x, y [B, H, W, C] in [0, data_range] -> [B] in [0, 1].

  The luminance term is not shift-invariant: inputs must be on the usual
  [0, data_range] scale (`ms_ssim` maps [-1, 1] images there).
  """
  window = jnp.asarray(gaussian_window(window_size), x.dtype)
  weights = jnp.asarray(WEIGHTS, x.dtype)
  terms = []
  for scale in range(len(WEIGHTS)):
    ssim, cs = _ssim_terms(x, y, window, data_range)
    if scale < len(WEIGHTS) - 1:
      terms.append(jax.nn.relu(cs))
      x, y = _avg_pool(x), _avg_pool(y)
  terms.append(jax.nn.relu(ssim))
  stacked = jnp.stack(terms)  # [scales, B, C]
  per_channel = jnp.prod(stacked ** weights[:, None, None], axis=0)
  return per_channel.mean(axis=-1)


def _to_unit(images, value_range):
  low, high = value_range
  return ((np.asarray(images, np.float32) - low) / (high - low)).astype(
      np.float32)


def ms_ssim(x, y, window_size: int | None = None,
            value_range=(-1.0, 1.0)) -> np.ndarray:
  """MS-SSIM of image pairs.

  x, y: [B, H, W, C] float in `value_range` (default [-1, 1]), mapped to
  [0, 1] as pytorch-msssim with data_range=1 expects. window_size: None
  adapts it to the resolution (`window_size_for`).
  Returns [B] float64 in [0, 1].
  """
  x = _to_unit(x, value_range)
  y = _to_unit(y, value_range)
  if x.ndim != 4 or x.shape != y.shape:
    raise UserError(f"MS-SSIM needs two [B, H, W, C] arrays of one shape, got "
                    f"{x.shape} and {y.shape}; batch the images as NHWC")
  size = window_size or window_size_for(x.shape[1], x.shape[2])
  return np.asarray(ms_ssim_pairs(jnp.asarray(x), jnp.asarray(y), size),
                    np.float64)


def draw_pairs(num_images: int, num_pairs: int, seed: int = 0) -> np.ndarray:
  """[P, 2] int pairs i != j: consecutive entries of random permutations."""
  rng = np.random.default_rng(seed)
  pairs = []
  while sum(len(p) for p in pairs) < num_pairs:
    perm = rng.permutation(num_images)
    pairs.append(perm[:num_images // 2 * 2].reshape(-1, 2))
  return np.concatenate(pairs)[:num_pairs]


def ms_ssim_diversity(images, num_pairs: int = DEFAULT_NUM_PAIRS,
                      window_size: int | None = None,
                      value_range=(-1.0, 1.0),
                      batch_size: int = 64, seed: int = 0) -> dict:
  """Mean MS-SSIM over random pairs of (generated) images.

  images: [N, H, W, C] float in `value_range` (default [-1, 1]; mapped to
  [0, 1] first), N >= 2, C = 1 or 3.
  num_pairs: pairs drawn as consecutive entries of random permutations (no
  image paired with itself; with N < 2 num_pairs, images recur across pairs).
  Returns a dict:
    ms_ssim: float in [0, 1], mean over pairs (lower = more diverse);
    std: float, population std over pairs;
    num_pairs, window_size, num_images: int.
  """
  images = np.asarray(images)
  if images.ndim != 4:
    raise UserError(f"images must be [N, H, W, C], got shape {images.shape}; "
                    f"add the channel axis for grayscale")
  if images.shape[0] < 2 or num_pairs < 1:
    raise UserError(f"MS-SSIM diversity needs at least 2 images and 1 pair, "
                    f"got {images.shape[0]} images and num_pairs={num_pairs}; "
                    f"generate more images")
  size = window_size or window_size_for(images.shape[1], images.shape[2])
  images = _to_unit(images, value_range)
  pairs = draw_pairs(images.shape[0], num_pairs, seed)
  values = []
  for s in range(0, len(pairs), batch_size):
    chunk = pairs[s:s + batch_size]
    pad = batch_size - len(chunk)  # One compiled shape for every chunk.
    idx = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)])
    v = ms_ssim_pairs(jnp.asarray(images[idx[:, 0]]),
                      jnp.asarray(images[idx[:, 1]]), size)
    values.append(np.asarray(v, np.float64)[:len(chunk)])
  values = np.concatenate(values)
  return dict(ms_ssim=float(values.mean()), std=float(values.std()),
              num_pairs=int(len(values)), window_size=int(size),
              num_images=int(images.shape[0]))
