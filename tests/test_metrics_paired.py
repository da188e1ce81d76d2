"""Paired translation metrics (gan.metrics.paired) against piq and against
scikit-image's SSIM recipe written in float64 with scipy."""
import numpy as np
import pytest
from scipy import ndimage

from gan.errors import UserError
from gan.metrics import paired


def _pairs(seed, n=3, size=40, channels=1):
  """Targets with a bright disc on black, predictions a noisy, shifted copy."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[:size, :size]
  disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2)
  target = np.where(disc[None, ..., None],
                    rng.uniform(0.3, 0.9, (n, size, size, channels)), 0.0)
  pred = np.clip(np.roll(target, 1, axis=2)
                 + rng.normal(0, 0.05, target.shape), 0, 1)
  # Into [-1, 1], the pixel convention the metrics take by default.
  return (2 * pred - 1).astype(np.float32), (2 * target - 1).astype(np.float32)


def _skimage_ssim_map(x, y):
  """scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1) map, float64, cropped to the
  valid window centres as it crops before its mean."""
  f = lambda a: ndimage.gaussian_filter(a, 1.5, truncate=3.5, mode="reflect")
  mx, my = f(x), f(y)
  vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
  c1, c2 = 0.01 ** 2, 0.03 ** 2
  s = ((2 * mx * my + c1) * (2 * cxy + c2)
       / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
  return s[5:-5, 5:-5]


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_psnr_match_piq(channels):
  import torch
  import piq
  pred, target = _pairs(0, channels=channels)
  got = paired.paired_metrics(pred, target)
  x = torch.from_numpy(paired.to_unit(pred)).permute(0, 3, 1, 2).double()
  y = torch.from_numpy(paired.to_unit(target)).permute(0, 3, 1, 2).double()
  want_ssim = piq.ssim(x, y, data_range=1.0, reduction="none",
                       downsample=False).numpy()
  want_psnr = piq.psnr(x, y, data_range=1.0, reduction="none").numpy()
  np.testing.assert_allclose(got["per_image"]["ssim"], want_ssim, atol=2e-6)
  np.testing.assert_allclose(got["per_image"]["psnr"], want_psnr, atol=1e-3)
  assert got["ssim"] == pytest.approx(want_ssim.mean(), abs=2e-6)


def test_ssim_map_and_masked_means_match_the_scikit_image_recipe():
  pred, target = _pairs(1, n=2)
  x, y = paired.to_unit(pred)[..., 0], paired.to_unit(target)[..., 0]
  got = paired.paired_metrics(pred, target)
  maps = [_skimage_ssim_map(a.astype(np.float64), b.astype(np.float64))
          for a, b in zip(x, y)]
  np.testing.assert_allclose(got["per_image"]["ssim"],
                             [m.mean() for m in maps], atol=2e-6)
  # Inside the targets' foreground (the disc: above 5% of the range).
  mask = y > paired.FOREGROUND_THRESHOLD
  error = x.astype(np.float64) - y
  for i in range(2):
    assert got["per_image"]["mae_foreground"][i] == pytest.approx(
        np.abs(error[i][mask[i]]).mean(), rel=1e-9)
    assert got["per_image"]["psnr_foreground"][i] == pytest.approx(
        10 * np.log10(1 / (error[i][mask[i]] ** 2).mean()), rel=1e-9)
    assert got["per_image"]["ssim_foreground"][i] == pytest.approx(
        maps[i][mask[i][5:-5, 5:-5]].mean(), abs=2e-6)
  assert got["mae"] == pytest.approx(np.abs(error).mean(), rel=1e-6)
  assert 0 < got["foreground_fraction"] < 1
  # The background is easy (black on black, up to noise): the foreground
  # scores are the harder ones.
  assert got["mae_foreground"] > got["mae"]


def test_identical_images_and_empty_masks():
  _, target = _pairs(2, n=2)
  same = paired.paired_metrics(target, target)
  assert same["mae"] == 0 and same["ssim"] == pytest.approx(1, abs=1e-6)
  assert same["psnr"] == pytest.approx(100.0)     # The MSE floor, not inf.
  mask = np.zeros(target.shape[:3], bool)
  mask[0, 10:20, 10:20] = True                    # Image 1: empty mask.
  result = paired.paired_metrics(target, target, mask=mask)
  assert result["per_image"]["mae_foreground"][1] is None  # Left out.
  assert result["mae_foreground"] == 0.0
  with pytest.raises(UserError, match="one \\[B, H, W, C\\] shape"):
    paired.paired_metrics(target, target[:1])
  with pytest.raises(UserError, match="at least 11x11"):
    paired.paired_metrics(target[:, :8, :8], target[:, :8, :8])
  with pytest.raises(UserError, match="mask must be"):
    paired.paired_metrics(target, target, mask=mask[:, :5])
