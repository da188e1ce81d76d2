"""MS-SSIM against pytorch-msssim (same window), and the diversity summary.

Ours runs in float32 (XLA), the reference in float64 (torch): agreement to
1e-5 absolute is float32 rounding.
"""
import numpy as np
import pytest

from gan.errors import UserError
from gan.metrics import ms_ssim

torch = pytest.importorskip("torch")
pytorch_msssim = pytest.importorskip("pytorch_msssim")


def _images(n, size, channels, seed):
  rng = np.random.default_rng(seed)
  base = rng.uniform(-1, 1, (1, size, size, channels))
  # Correlated pairs so that MS-SSIM is far from 0 and every scale matters.
  return np.clip(base + 0.6 * rng.standard_normal((n, size, size, channels)),
                 -1, 1).astype(np.float32)


def _reference(x, y, window):
  to_torch = lambda a: torch.from_numpy(
      ((a.astype(np.float64) + 1) / 2).transpose(0, 3, 1, 2))
  return pytorch_msssim.ms_ssim(to_torch(x), to_torch(y), data_range=1.0,
                                size_average=False, win_size=window).numpy()


@pytest.mark.parametrize("size,channels,window", [(64, 1, 3), (67, 3, 5),
                                                  (128, 1, 7)])
def test_matches_pytorch_msssim(size, channels, window):
  x = _images(3, size, channels, 0)
  y = _images(3, size, channels, 1)
  assert ms_ssim.window_size_for(size, size) == window
  got = ms_ssim.ms_ssim(x, y)
  np.testing.assert_allclose(got, _reference(x, y, window), atol=1e-5)


def test_window_adapts_to_resolution():
  assert ms_ssim.window_size_for(64, 64) == 3
  assert ms_ssim.window_size_for(128, 128) == 7
  assert ms_ssim.window_size_for(208, 176) == 11
  assert ms_ssim.window_size_for(256, 256) == 11
  with pytest.raises(UserError, match="too small"):
    ms_ssim.window_size_for(16, 16)


def test_diversity_is_mean_over_pairs():
  images = _images(7, 64, 1, 2)
  out = ms_ssim.ms_ssim_diversity(images, num_pairs=9, batch_size=4, seed=5)
  pairs = ms_ssim.draw_pairs(7, 9, seed=5)
  assert len(pairs) == 9 and np.all(pairs[:, 0] != pairs[:, 1])
  want = _reference(images[pairs[:, 0]], images[pairs[:, 1]], 3)
  assert out["ms_ssim"] == pytest.approx(want.mean(), abs=1e-5)
  assert out["std"] == pytest.approx(want.std(), abs=1e-5)
  assert (out["num_pairs"], out["window_size"], out["num_images"]) == (9, 3, 7)
  identical = ms_ssim.ms_ssim_diversity(np.repeat(images[:1], 4, 0),
                                        num_pairs=2)
  assert identical["ms_ssim"] == pytest.approx(1.0, abs=1e-5)


def test_bad_inputs_are_user_errors():
  with pytest.raises(UserError, match="at least 2 images"):
    ms_ssim.ms_ssim_diversity(np.zeros((1, 64, 64, 1)))
  with pytest.raises(UserError, match="NHWC"):
    ms_ssim.ms_ssim(np.zeros((2, 64, 64, 1)), np.zeros((2, 64, 64, 3)))
