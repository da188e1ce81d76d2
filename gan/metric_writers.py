"""TensorBoard and console logging through clu, behind one small interface.

clu is frozen at 0.0.12; if it moves or goes, only this module changes.
Only process 0 writes events (others just log), so multi-host runs write once.
"""
from __future__ import annotations

from typing import Mapping

import jax
import numpy as np
from absl import logging
from clu import metric_writers
from clu import periodic_actions

from gan import storage


class Writer:
  """Writes scalars and images to `<logdir>` as TensorBoard events.

  A full disk does not stop training, and is not passed over in silence:
  TF's event writer drops events on a full disk without an error, so each
  write first checks the free space (gan.storage); when it is short, one
  warning names the log directory and events stop, while checkpoints keep
  their own check. A writer that does raise a disk-full error is treated
  the same way.
  """

  def __init__(self, logdir: str):
    self._logdir = logdir
    self.stopped = False
    # The training loop prints its own console line; events go to
    # TensorBoard from process 0 only.
    if jax.process_index() == 0:
      self._writer = metric_writers.SummaryWriter(logdir)
    else:
      self._writer = metric_writers.MultiWriter([])

  def _guarded(self, payload_bytes: int, write) -> None:
    if self.stopped:
      return
    free = storage.free_bytes(self._logdir)
    if free is not None and free < storage.with_margin(payload_bytes):
      self._stop(f"{storage.human(free)} free")
      return
    try:
      write()
    except Exception as e:  # pylint: disable=broad-except
      if not storage.is_disk_full(e):
        raise
      self._stop(" ".join(str(e).split())[:120])

  def _stop(self, why: str) -> None:
    logging.warning(
        "TensorBoard events in %s are no longer written: the disk is full "
        "(%s). Training goes on and checkpoints check the space themselves; "
        "free space on that disk and rerun (the run resumes) to get events "
        "back.", self._logdir, why)
    self.stopped = True
    writer, self._writer = self._writer, metric_writers.MultiWriter([])
    try:
      writer.close()
    except Exception:  # pylint: disable=broad-except
      pass  # Its last events cannot reach the full disk either.

  def write_scalars(self, step: int, scalars: Mapping[str, float]):
    values = {k: float(v) for k, v in scalars.items()}
    self._guarded(64 * len(values),
                  lambda: self._writer.write_scalars(step, values))

  def write_images(self, step: int, images: Mapping[str, np.ndarray]):
    """images: name -> [N, H, W, C] or [H, W, C] uint8 or float in [0, 1]."""
    batched = {k: (v[None] if v.ndim == 3 else v) for k, v in images.items()}
    self._guarded(sum(np.asarray(v).nbytes for v in batched.values()),
                  lambda: self._writer.write_images(step, batched))

  def write_hparams(self, hparams: Mapping[str, object]):
    self._guarded(1024, lambda: self._writer.write_hparams(dict(hparams)))

  def flush(self):
    self._guarded(0, self._writer.flush)

  def close(self):
    if not self.stopped:
      self._guarded(0, self._writer.close)


def create_writer(logdir: str) -> Writer:
  return Writer(logdir)


def progress_reporter(num_train_steps: int):
  """Logs progress and ETA every minute (clu's ReportProgress)."""
  return periodic_actions.ReportProgress(num_train_steps=num_train_steps,
                                         every_secs=60.0)
