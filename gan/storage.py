"""Writing to disk without losing work: free-space checks and whole files.

Everything the project writes that a full disk could cut in half (a
checkpoint, a sample grid, a results file, a synthetic data set) first asks
`require_space` whether it fits, and is written to a temporary name and
renamed, so a reader only ever sees complete files. A disk that fills up
anyway (another process writing) is reported by `disk_full_error` in the same
one-line form, naming the path, the space needed and the space free.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import uuid

from gan.errors import UserError

# Files grow by more than their payload (file system blocks, metadata, the
# temporary copy of a small file beside the old one); ask for this much more.
_MARGIN_FRACTION, _MARGIN_BYTES = 0.1, 1 << 20

# How TensorStore / Orbax / the OS say "the disk is full".
_DISK_FULL_WORDS = ("No space left on device", "RESOURCE_EXHAUSTED",
                    "Disk quota exceeded", "os_error_code='28'")


class DiskFull(UserError):
  """Not enough free space for something the project is about to write."""


def is_remote(path: str) -> bool:
  return "://" in os.fspath(path)


def free_bytes(path: str) -> int | None:
  """Free bytes on the file system that holds (or will hold) `path`; None
  for a bucket (gs://...), whose space we cannot ask about."""
  path = os.fspath(path)
  if is_remote(path):
    return None
  path = os.path.abspath(path)
  while not os.path.exists(path):
    parent = os.path.dirname(path)
    if parent == path:
      return None
    path = parent
  return shutil.disk_usage(path).free


def tree_bytes(path: str) -> int:
  """Bytes of every file under `path` (0 if it does not exist)."""
  if os.path.isfile(path):
    return os.path.getsize(path)
  total = 0
  for root, _, files in os.walk(path):
    for name in files:
      try:
        total += os.path.getsize(os.path.join(root, name))
      except OSError:  # Removed while we walked (Orbax's cleanup).
        pass
  return total


def human(num_bytes: float) -> str:
  for unit in ("B", "KB", "MB", "GB"):
    if abs(num_bytes) < 1000 or unit == "GB":
      return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
    num_bytes /= 1000
  return f"{num_bytes:.1f} TB"


def current_umask() -> int:
  mask = os.umask(0o022)  # Reading it means setting it; put it straight back.
  os.umask(mask)
  return mask


def with_margin(num_bytes: int) -> int:
  return int(num_bytes * (1 + _MARGIN_FRACTION)) + _MARGIN_BYTES


def _message(what: str, path: str, needed: int, free: int | None,
             kept: str) -> str:
  free_text = "unknown" if free is None else human(free)
  return (f"not enough disk space for {what} at {path}: it needs "
          f"{human(needed)}, {free_text} free; {kept + '; ' if kept else ''}"
          f"free space on that disk (or point the output to another one) and "
          f"rerun the same command")


def require_space(path: str, payload_bytes: int, what: str,
                  kept: str = "") -> None:
  """Raises DiskFull unless `payload_bytes` (plus a margin) fit at `path`.

  what: the thing about to be written ("checkpoint 1500"); kept: what is
  still safe, said in the message ("the checkpoint at step 1250 is intact").
  """
  free = free_bytes(path)
  needed = with_margin(payload_bytes)
  if free is not None and free < needed:
    raise DiskFull(_message(what, os.path.abspath(path), needed, free, kept))


def is_disk_full(error: BaseException) -> bool:
  if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
    return True
  return is_disk_full_text(f"{error}")


def is_disk_full_text(text: str) -> bool:
  return any(word in text for word in _DISK_FULL_WORDS)


def disk_full_error(path: str, payload_bytes: int, what: str,
                    kept: str = "") -> DiskFull:
  """The DiskFull to raise when a write failed because the disk filled up."""
  return DiskFull(_message(what, os.path.abspath(path),
                           with_margin(payload_bytes), free_bytes(path), kept))


def write_bytes(path: str, data: bytes, what: str) -> None:
  """Writes `data` to `path` whole or not at all (temporary file + rename),
  after checking it fits; a bucket path is written directly (an object
  appears whole when it is closed)."""
  path = os.fspath(path)
  if is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "wb") as f:
      f.write(data)
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  require_space(directory, len(data), what)
  # A name of our own rather than mkstemp's, whose files are private (0600)
  # whatever the umask says.
  tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
  try:
    with open(tmp, "xb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException as e:
    try:
      os.unlink(tmp)
    except FileNotFoundError:
      pass
    if isinstance(e, OSError) and is_disk_full(e):
      raise disk_full_error(directory, len(data), what) from None
    raise


def write_text(path: str, text: str, what: str) -> None:
  write_bytes(path, text.encode("utf-8"), what)


def write_json(path: str, value, what: str, **dump_kwargs) -> None:
  write_text(path, json.dumps(value, **dump_kwargs), what)
