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
    # The training loop prints its own console line; events go to
    # TensorBoard from process 0 only.
    if jax.process_index() == 0:
      self._writer = metric_writers.SummaryWriter(logdir)
    else:
      self._writer = metric_writers.MultiWriter([])

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


def progress_reporter(num_train_steps: int):
  """Logs progress and ETA every minute (clu's ReportProgress)."""
  return periodic_actions.ReportProgress(num_train_steps=num_train_steps,
                                         every_secs=60.0)
