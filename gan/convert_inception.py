r"""Converts pytorch-fid's FID Inception weights to a Flax parameter file.

  python -m gan.convert_inception \
      --torch_weights=pt_inception-2015-12-05-6726825d.pth \
      --output=fid_inception_v3.msgpack

The input is pytorch-fid's release file (download it from
`gan.inception.WEIGHTS_URL`). It is read with `torch.load(...,
weights_only=True)`, which refuses to unpickle arbitrary objects. Every
converted leaf is checked against the shapes of the Flax model's own `init`.

State-dict keys are torchvision's:
  <layer>.conv.weight [out, in, kh, kw] -> params/<layer>/kernel
                                           [kh, kw, in, out]
  <layer>.bn.weight, .bn.bias           -> params/<layer>/scale, bias
  <layer>.bn.running_mean, running_var  -> batch_stats/<layer>/mean, var
  fc.weight [1008, 2048], fc.bias       -> params/fc/kernel [2048, 1008], bias
  *.num_batches_tracked                 -> (ignored)
where <layer> is e.g. `Conv2d_1a_3x3` or `Mixed_6b/branch7x7dbl_5`.

`random_pytorch_fid_state_dict` builds pytorch-fid's own network with random
weights, without its download, for the parity tests and benchmarks.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from typing import Mapping

from absl import app
from absl import flags
from absl import logging
import numpy as np

from gan import inception
from gan.errors import UserError
from gan.errors import exit_on_user_error

_BN = {"weight": ("params", "scale"), "bias": ("params", "bias"),
       "running_mean": ("batch_stats", "mean"),
       "running_var": ("batch_stats", "var")}


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def load_torch_state_dict(path: str) -> tuple[dict[str, np.ndarray], str]:
  """Reads a PyTorch state dict safely (`weights_only=True`).

  Returns:
    ({key: float32 array}, SHA-256 of the file).
  Raises:
    UserError: a missing file, or one that is not a plain state dict.
  """
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise UserError(f"reading {path} needs PyTorch: `pip install torch`, or "
                    f"convert it elsewhere with `python -m "
                    f"gan.convert_inception`") from None
  try:
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
  except FileNotFoundError:
    raise UserError(f"{path} does not exist: "
                    f"{inception.weights_help()}") from None
  except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
          AttributeError, OSError) as e:
    raise UserError(
        f"{path} is not a PyTorch state dict that loads with "
        f"weights_only=True ({type(e).__name__}); "
        f"{inception.weights_help()}") from None
  if isinstance(state_dict, Mapping) and "state_dict" in state_dict:
    state_dict = state_dict["state_dict"]
  if not isinstance(state_dict, Mapping):
    raise UserError(f"{path} holds a {type(state_dict).__name__}, not a state "
                    f"dict; {inception.weights_help()}")
  arrays = {}
  for key, value in state_dict.items():
    if not torch.is_tensor(value):
      raise UserError(f"{path}: entry {key} is not a tensor; "
                      f"{inception.weights_help()}")
    if key.endswith("num_batches_tracked"):
      continue
    arrays[key] = value.detach().to(torch.float32).cpu().numpy()
  return arrays, file_sha256(path)


def convert_state_dict(state_dict: Mapping[str, np.ndarray],
                       source: str = "state dict") -> dict:
  """pytorch-fid state dict -> Flax variables {'params', 'batch_stats'}.

  Args:
    state_dict: torchvision-style keys to arrays (torch tensors or numpy).
    source: how to name the input in errors.
  Returns:
    Nested dicts of float32 numpy arrays, checked leaf by leaf against
    `gan.inception.variable_shapes()`.
  Raises:
    UserError: unknown keys, missing keys or wrong shapes.
  """
  variables: dict = {"params": {}, "batch_stats": {}}
  unknown = []

  def put(collection, path, value):
    node = variables[collection]
    for part in path[:-1]:
      node = node.setdefault(part, {})
    node[path[-1]] = np.asarray(value, np.float32)

  for key, value in state_dict.items():
    if key.endswith("num_batches_tracked"):
      continue
    value = np.asarray(value.detach().cpu().numpy()
                       if hasattr(value, "detach") else value, np.float32)
    parts = key.split(".")
    if parts == ["fc", "weight"]:
      put("params", ["fc", "kernel"], value.T)
    elif parts == ["fc", "bias"]:
      put("params", ["fc", "bias"], value)
    elif len(parts) >= 3 and parts[-2:] == ["conv", "weight"]:
      if value.ndim != 4:
        unknown.append(f"{key} (rank {value.ndim}, not a conv kernel)")
        continue
      put("params", parts[:-2] + ["kernel"], value.transpose(2, 3, 1, 0))
    elif len(parts) >= 3 and parts[-2] == "bn" and parts[-1] in _BN:
      collection, name = _BN[parts[-1]]
      put(collection, parts[:-2] + [name], value)
    else:
      unknown.append(key)
  if unknown:
    shown = ", ".join(unknown[:4])
    more = f" (and {len(unknown) - 4} more)" if len(unknown) > 4 else ""
    raise UserError(
        f"{source} has keys that pytorch-fid's FID Inception does not "
        f"({shown}{more}): it is not {inception.WEIGHTS_FILE} (torchvision's "
        f"ImageNet Inception has an AuxLogits head and different blocks); "
        f"{inception.weights_help()}")
  inception.check_variables(variables, source)
  return variables


def convert_file(torch_weights: str, output: str) -> dict[str, str]:
  """Converts a pytorch-fid `.pth` file to a Flax msgpack file.

  Returns:
    {'output', 'source_sha256', 'official', 'fingerprint'}.
  """
  state_dict, sha256 = load_torch_state_dict(torch_weights)
  variables = convert_state_dict(state_dict, source=torch_weights)
  inception.save_variables(output, variables, source_sha256=sha256)
  return {"output": output, "source_sha256": sha256,
          "official": "yes" if inception.is_official(sha256) else "no",
          "fingerprint": inception.fingerprint(variables)}


# ---------------------------------------------------------------------------
# pytorch-fid's network with random weights (tests and benchmarks).


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
                            inception.WEIGHTS_FILE)
  flax_path = os.path.join(directory, inception.CONVERTED_FILE)
  stamp = os.path.join(directory, f"seed_{seed}.v{_RANDOM_WEIGHTS_VERSION}")
  if not all(os.path.isfile(p) for p in (torch_path, flax_path, stamp)):
    os.makedirs(os.path.dirname(torch_path), exist_ok=True)
    # Written under temporary names and renamed: concurrent test workers
    # write identical files, and readers never see a partial one.
    suffix = f".{os.getpid()}.tmp"
    torch.save(random_pytorch_fid_state_dict(seed), torch_path + suffix)
    os.replace(torch_path + suffix, torch_path)
    convert_file(torch_path, flax_path + suffix)
    os.replace(flax_path + suffix, flax_path)
    with open(stamp, "w") as f:
      f.write(file_sha256(torch_path))
  return torch_path, flax_path


# ---------------------------------------------------------------------------
# Binary.



def define_flags() -> None:
  """The binary's flags (defined only when it runs, so that importing this
  module from another binary adds none)."""
  flags.DEFINE_string("torch_weights", None,
                      f"pytorch-fid's {inception.WEIGHTS_FILE} "
                      f"(from {inception.WEIGHTS_URL}).")
  flags.DEFINE_string("output", inception.CONVERTED_FILE,
                      "Where to write the Flax weights (msgpack).")


@exit_on_user_error
def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS.torch_weights:
    raise UserError(f"pass --torch_weights=PATH/{inception.WEIGHTS_FILE} "
                    f"(download it from {inception.WEIGHTS_URL})")
  info = convert_file(flags.FLAGS.torch_weights, flags.FLAGS.output)
  if info["official"] != "yes":
    logging.warning("%s is not pytorch-fid's release file (SHA-256 %s does "
                    "not start with %s): FID computed with it is not "
                    "comparable to published numbers.",
                    flags.FLAGS.torch_weights, info["source_sha256"][:16],
                    inception.WEIGHTS_SHA256_PREFIX)
  print(f"wrote {info['output']} (source SHA-256 {info['source_sha256']}); "
        f"use it with {inception.WEIGHTS_FLAG}={info['output']}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
