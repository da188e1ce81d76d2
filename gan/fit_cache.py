"""The augmentation benchmark's finished fits, kept on disk.

A full benchmark (every arm's candidates on validation, then five seeds per
arm) takes longer than a session. Each finished fit is written to the
output folder at once (atomically), keyed by everything that decides its
result: the phase (a validation candidate or a final run), the arm's
candidate, the seed, the classifier, data and validation configs, the
synthetic source's name and the training split's size and labels. The fits
are deterministic per seed, so a stored result is the one a rerun would
compute: rerunning the same command skips them, and a changed config or
generator simply misses. `time_budget_minutes` stops a run between fits
(`OutOfTime`), so that a rerun continues where it ended.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

from gan import storage


class OutOfTime(Exception):
  """The time budget is spent; every finished fit is on disk."""


class FitCache:
  """Finished fits under `folder` (None: keep nothing, never stop)."""

  def __init__(self, folder: str | None, budget_minutes: float | None = None):
    self.folder = folder
    self.budget_minutes = budget_minutes
    self.start = time.time()
    self.stored = self.read_back = 0

  @staticmethod
  def key(**parts) -> str:
    """A short hash of `parts` (JSON-able values, numpy arrays by content)."""
    def default(value):
      if isinstance(value, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
      return str(value)
    text = json.dumps(parts, sort_keys=True, default=default)
    return hashlib.sha256(text.encode()).hexdigest()[:20]

  def _path(self, key: str, suffix: str) -> str:
    return os.path.join(self.folder, key[:2], key + suffix)

  def get(self, key: str) -> dict | None:
    if self.folder is None or not os.path.exists(self._path(key, ".json")):
      return None
    with open(self._path(key, ".json")) as f:
      record = json.load(f)
    self.read_back += 1
    return record

  def put(self, key: str, record: dict, model_bytes: bytes | None = None) -> None:
    """Stores `record` (and the fitted network's bytes, written first, so a
    record never names a missing network)."""
    if self.folder is None:
      return
    if model_bytes is not None:
      storage.write_bytes(self._path(key, ".msgpack"), model_bytes,
                          "a benchmark network")
    storage.write_json(self._path(key, ".json"), record, "a benchmark result")
    self.stored += 1

  def model_bytes(self, key: str) -> bytes | None:
    if self.folder is None or not os.path.exists(self._path(key, ".msgpack")):
      return None
    with open(self._path(key, ".msgpack"), "rb") as f:
      return f.read()

  def check_time(self) -> None:
    """Raises OutOfTime once the budget is spent (call before each fit)."""
    if self.budget_minutes and (time.time() - self.start) / 60 >= self.budget_minutes:
      raise OutOfTime(
          f"time budget of {self.budget_minutes:g} minutes spent after "
          f"{self.stored} new fits ({self.read_back} read back); every finished "
          f"fit is stored in {self.folder}: rerun the same command to go on")
