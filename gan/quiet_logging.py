"""Log lines of the libraries we use that tell our users nothing, hidden.

Binaries call `install()` once at start. Hidden: Orbax's INFO lines (a
dozen per checkpoint) and its two warnings on every read-only open (it
"sets save_interval_steps=0" and finds the directory "read only": both what
gan.sample and gan.evaluate asked for), and JAX's INFO line about the TPU
backend it probes for and does not find on a CPU or GPU machine; TFDS's
"Using custom data configuration" and "Variant folder ... has no
dataset_info.json" warnings (said on every read of a user folder's build,
and before every build).

`hide_tensorflow_banner()` (called by `gan/__init__.py`, so before any of
our modules imports TensorFlow) drops the lines TensorFlow's C++ runtime
writes to stderr at import, before its logging is set up (so
TF_CPP_MIN_LOG_LEVEL cannot silence them): the oneDNN notice, the CPU
instruction notice and absl's "before InitializeLog" line. Every other line
written during the import passes through as it comes.
Everything else, and every warning and error of ours, stays.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import sys
import threading

from absl import logging as absl_logging

_READ_ONLY_WARNINGS = ("read_only=True, setting save_interval_steps=0",
                       "Given directory is read only")
_TFDS_WARNINGS = ("Using custom data configuration",
                  "has no dataset_info.json")
# What TensorFlow's C++ runtime prints at import (TF 2.21): each line holds
# one of these, or continues the previous one (the CPU notice has two).
TENSORFLOW_BANNER = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "rebuild TensorFlow with the appropriate compiler flags")


class _LibraryNoise(logging.Filter):

  def filter(self, record):
    path = record.pathname.replace("\\", "/")
    if "/orbax/" in path:
      if record.levelno < logging.WARNING:
        return False
      if record.levelno == logging.WARNING:
        message = record.getMessage()
        return not any(words in message for words in _READ_ONLY_WARNINGS)
    if "/tensorflow_datasets/" in path and record.levelno == logging.WARNING:
      message = record.getMessage()
      return not any(words in message for words in _TFDS_WARNINGS)
    if record.levelno < logging.WARNING:
      message = record.getMessage()
      if (path.endswith("xla_bridge.py")
          and "Unable to initialize backend" in message):
        return False
    return True


_FILTER = _LibraryNoise()


def install() -> None:
  for handler in [absl_logging.get_absl_handler(), *logging.getLogger().handlers]:
    handler.addFilter(_FILTER)  # Idempotent.


def _forward(read_fd: int, write_fd: int) -> None:
  """Copies lines from a pipe to `write_fd`, dropping the banner's lines."""
  with os.fdopen(read_fd, "rb") as pipe:
    for line in pipe:
      text = line.decode(errors="replace")
      if not any(words in text for words in TENSORFLOW_BANNER):
        os.write(write_fd, line)


class _QuietTensorflowImport(importlib.abc.MetaPathFinder):
  """Wraps the first import of `tensorflow` in a filter of stderr (fd 2)."""

  def find_spec(self, fullname, path=None, target=None):
    if fullname != "tensorflow":
      return None
    sys.meta_path.remove(self)  # Once; and find the real spec below.
    spec = importlib.util.find_spec(fullname)
    if spec is None or spec.loader is None:
      return spec
    exec_module = spec.loader.exec_module

    def quiet_exec_module(module):
      sys.stderr.flush()
      saved = os.dup(2)
      read_fd, write_fd = os.pipe()
      forwarder = threading.Thread(target=_forward, args=(read_fd, saved),
                                   daemon=True)
      forwarder.start()
      os.dup2(write_fd, 2)
      os.close(write_fd)
      try:
        exec_module(module)
      finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # Closes the pipe's last write end: EOF.
        forwarder.join(timeout=5)
        os.close(saved)

    spec.loader.exec_module = quiet_exec_module
    return spec


def hide_tensorflow_banner() -> None:
  """Installs the filter for TensorFlow's first import (a no-op once it is
  imported, or with GAN_SHOW_TF_BANNER=1)."""
  if "tensorflow" in sys.modules or os.environ.get("GAN_SHOW_TF_BANNER"):
    return
  if not any(isinstance(f, _QuietTensorflowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorflowImport())
