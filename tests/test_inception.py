"""Parity of the Flax FID Inception with pytorch-fid, and the converter.

pytorch-fid's own network is built with random weights and randomised
BatchNorm statistics (`gan.pytorch_fid_weights.random_pytorch_fid_state_dict`,
its download patched out), saved as its weights file, loaded back by
pytorch-fid's `InceptionV3` (strict `load_state_dict`: the state dict is
exactly pytorch-fid's architecture), converted with our converter, and both
networks are run on the same random images. Nothing is downloaded.
"""
import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan import features
from gan import fingerprint
from gan import inception
from gan import inception_weights
from gan.errors import UserError
from tests import helpers
from tests import pytorch_fid_weights

TOLERANCE = 1e-4  # Max abs difference, float32 on CPU.


@pytest.fixture(scope="module")
def weights():
  """(torch_home, torch_path, flax_path), shared by the test files."""
  home = os.path.join(tempfile.gettempdir(), "gan_test_fid_inception_seed0")
  torch_path, flax_path = pytorch_fid_weights.write_random_weights(home, seed=0)
  return home, torch_path, flax_path


@pytest.fixture(scope="module")
def pytorch_fid_model(weights):
  home, _, _ = weights
  return helpers.pytorch_fid_inception(home)


@pytest.fixture(scope="module")
def network(weights):
  # Two forced CPU devices (conftest): extraction is sharded over both.
  return features.FIDInceptionNetwork(weights[2], batch_size=2)


def _torch_outputs(model, state_dict, images):
  """pytorch-fid on [N, H, W, C] in [-1, 1]: pool3, logits, unbiased logits."""
  x = torch.from_numpy(images).permute(0, 3, 1, 2)
  if x.shape[1] == 1:
    x = x.repeat(1, 3, 1, 1)  # pytorch-fid's convert('RGB') of grayscale.
  with torch.no_grad():
    pool3 = model(x * 0.5 + 0.5)[0][:, :, 0, 0]  # It takes [0, 1].
    unbiased = pool3 @ state_dict["fc.weight"].T
    logits = unbiased + state_dict["fc.bias"]
  return {"pool3": pool3.numpy(), "logits": logits.numpy(),
          "logits_unbiased": unbiased.numpy()}


@pytest.mark.parametrize("height,width,channels", [
    (299, 299, 3),   # No resize.
    (64, 64, 3),     # Upsampled.
    (128, 128, 1),   # Grayscale, upsampled.
])
def test_matches_pytorch_fid(weights, pytorch_fid_model, network, height,
                             width, channels):
  _, torch_path, _ = weights
  state_dict = torch.load(torch_path, weights_only=True)
  rng = np.random.RandomState(height + channels)
  images = rng.uniform(-1, 1, (2, height, width, channels)).astype(np.float32)
  ours = {k: np.asarray(v) for k, v in network(images).items()}
  reference = _torch_outputs(pytorch_fid_model, state_dict, images)
  for name in ("pool3", "logits", "logits_unbiased"):
    assert ours[name].shape == reference[name].shape
    difference = np.abs(ours[name] - reference[name]).max()
    assert difference <= TOLERANCE, (name, difference)
  # Not a vacuous match: features are O(1) and differ between images.
  assert 0.1 < np.abs(reference["pool3"]).max() < 20
  assert np.abs(reference["pool3"][0] - reference["pool3"][1]).max() > 0.05


def test_sharded_extraction_equals_one_call(weights, network):
  """Over 2 forced devices (with padding) == one jit call on one device."""
  variables, _ = inception_weights.load_variables(weights[2])
  images = np.random.RandomState(5).uniform(-1, 1, (3, 40, 48, 1)).astype(
      np.float32)
  sharded = network(images)["pool3"]
  single = jax.jit(inception.apply)(variables, jnp.asarray(images))["pool3"]
  assert sharded.shape == (3, 2048)
  np.testing.assert_allclose(sharded, single, atol=1e-5, rtol=0)


@pytest.mark.parametrize("in_height,in_width", [(64, 64), (128, 128),
                                                (208, 176), (512, 400), (1, 3)])
def test_resize_matches_torch_interpolate(in_height, in_width):
  images = np.random.RandomState(0).rand(2, in_height, in_width, 3).astype(
      np.float32)
  ours = np.asarray(jax.jit(inception.resize_bilinear)(images))
  reference = F.interpolate(torch.from_numpy(images).permute(0, 3, 1, 2),
                            size=(299, 299), mode="bilinear",
                            align_corners=False, antialias=False)
  np.testing.assert_allclose(ours, reference.permute(0, 2, 3, 1).numpy(),
                             atol=2e-6, rtol=0)


def test_pools_match_torch():
  x = np.random.RandomState(1).randn(2, 9, 7, 5).astype(np.float32)
  xt = torch.from_numpy(x).permute(0, 3, 1, 2)
  average = F.avg_pool2d(xt, 3, stride=1, padding=1, count_include_pad=False)
  np.testing.assert_allclose(inception.avg_pool_exclude_padding(x),
                             average.permute(0, 2, 3, 1).numpy(), atol=1e-6)
  for strides, padding in ((2, 0), (1, 1)):
    maximum = F.max_pool2d(xt, 3, stride=strides, padding=padding)
    np.testing.assert_array_equal(
        inception.max_pool(x, 3, strides, padding),
        maximum.permute(0, 2, 3, 1).numpy())


def test_converter_checks_every_leaf(weights):
  _, torch_path, _ = weights
  state_dict, sha256 = inception_weights.load_torch_state_dict(torch_path)
  variables = inception_weights.convert_state_dict(state_dict)
  # Every tensor of the file lands in exactly one leaf of the model.
  leaves = jax.tree.leaves(variables)
  assert len(leaves) == len(state_dict)
  assert sum(x.size for x in leaves) == sum(x.size for x in state_dict.values())
  kernel = variables["params"]["Mixed_6b"]["branch7x7dbl_5"]["kernel"]
  np.testing.assert_array_equal(
      kernel, state_dict["Mixed_6b.branch7x7dbl_5.conv.weight"].transpose(
          2, 3, 1, 0))
  assert kernel.shape == (1, 7, 128, 192)  # 192 outputs, not channels_7x7.
  assert len(sha256) == 64

  # The bug a Flax port had for years: branch7x7dbl_5 with c7 outputs.
  wrong = dict(state_dict)
  wrong["Mixed_6b.branch7x7dbl_5.conv.weight"] = np.zeros((128, 128, 1, 7),
                                                          np.float32)
  with pytest.raises(UserError, match=r"Mixed_6b/branch7x7dbl_5/kernel has "
                     r"shape \(1, 7, 128, 128\), the model needs "
                     r"\(1, 7, 128, 192\)"):
    inception_weights.convert_state_dict(wrong)
  missing = {k: v for k, v in state_dict.items() if not k.startswith("fc.")}
  with pytest.raises(UserError, match="missing params/fc/bias"):
    inception_weights.convert_state_dict(missing)
  torchvision_like = dict(state_dict)
  torchvision_like["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)
  with pytest.raises(UserError, match="AuxLogits"):
    inception_weights.convert_state_dict(torchvision_like)


def test_weights_file_errors(tmp_path, monkeypatch):
  monkeypatch.delenv(inception_weights.WEIGHTS_ENV, raising=False)
  for path in (None, str(tmp_path / "absent.msgpack")):
    with pytest.raises(UserError) as error:
      inception_weights.load_variables(path)
    message = str(error.value)
    assert "\n" not in message
    assert inception_weights.WEIGHTS_URL in message
    assert "--inception_weights=" in message
    assert inception_weights.WEIGHTS_ENV in message
  garbage = tmp_path / "garbage.msgpack"
  garbage.write_bytes(b"\x00not msgpack at all")
  with pytest.raises(UserError, match="not a converted FID Inception weights"):
    inception_weights.load_variables(str(garbage))
  # A pickle that is not a plain state dict: weights_only=True refuses it.
  not_weights = tmp_path / "model.pth"
  torch.save({"model": torch.nn.Linear(2, 2)}, not_weights)
  with pytest.raises(UserError, match="weights_only=True"):
    inception_weights.load_torch_state_dict(str(not_weights))
  # A state dict of another network.
  other = tmp_path / "other.pth"
  torch.save(torch.nn.Linear(2, 2).state_dict(), other)
  with pytest.raises(UserError, match="keys that pytorch-fid's FID Inception "
                     "does not"):
    inception_weights.load_variables(str(other))


def test_weights_round_trip(weights, tmp_path):
  _, torch_path, flax_path = weights
  variables, info = inception_weights.load_variables(flax_path)
  assert info["official"] == "no"  # Random weights are flagged as such.
  assert info["source_sha256"] == inception_weights.file_sha256(torch_path)
  from_torch, _ = inception_weights.load_variables(torch_path)  # .pth directly.
  assert fingerprint.tree_sha256(from_torch) == fingerprint.tree_sha256(variables)
