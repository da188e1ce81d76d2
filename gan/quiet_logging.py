"""Log lines of the libraries we use that tell our users nothing, hidden.

Binaries call `install()` once at start. Hidden: Orbax's INFO lines (a
dozen per checkpoint) and its two warnings on every read-only open (it
"sets save_interval_steps=0" and finds the directory "read only": both what
gan.sample and gan.evaluate asked for), and JAX's INFO line about the TPU
backend it probes for and does not find on a CPU or GPU machine. Everything
else, and every warning and error of ours, stays.
"""
from __future__ import annotations

import logging

from absl import logging as absl_logging

_READ_ONLY_WARNINGS = ("read_only=True, setting save_interval_steps=0",
                       "Given directory is read only")


class _LibraryNoise(logging.Filter):

  def filter(self, record):
    path = record.pathname.replace("\\", "/")
    if "/orbax/" in path:
      if record.levelno < logging.WARNING:
        return False
      if record.levelno == logging.WARNING:
        message = record.getMessage()
        return not any(words in message for words in _READ_ONLY_WARNINGS)
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
