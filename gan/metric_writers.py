"""TensorBoard and console logging through clu, behind one small interface.

clu is frozen at 0.0.12; if it moves or goes, only this module changes.
Only process 0 writes events (others just log), so multi-host runs write once.
"""
from __future__ import annotations

from typing import Mapping

import jax
import numpy as np
from clu import metric_writers
from clu import periodic_actions


class Writer:
  """Writes scalars and images to `<logdir>` as TensorBoard events."""

  def __init__(self, logdir: str):
    self._writer = metric_writers.create_default_writer(
        logdir, just_logging=jax.process_index() > 0, asynchronous=False)

  def write_scalars(self, step: int, scalars: Mapping[str, float]):
    self._writer.write_scalars(step, {k: float(v) for k, v in scalars.items()})

  def write_images(self, step: int, images: Mapping[str, np.ndarray]):
    """images: name -> [N, H, W, C] or [H, W, C] uint8 or float in [0, 1]."""
    batched = {k: (v[None] if v.ndim == 3 else v) for k, v in images.items()}
    self._writer.write_images(step, batched)

  def write_hparams(self, hparams: Mapping[str, object]):
    self._writer.write_hparams(dict(hparams))

  def flush(self):
    self._writer.flush()

  def close(self):
    self._writer.close()


def create_writer(logdir: str) -> Writer:
  return Writer(logdir)


def progress_reporter(num_train_steps: int, writer: Writer):
  """Logs steps/s and ETA every so often (clu's ReportProgress)."""
  return periodic_actions.ReportProgress(
      num_train_steps=num_train_steps, writer=writer._writer,
      every_secs=60.0)
