"""Checkpoints through Orbax, behind one small interface (Orbax's API moves).

A checkpoint holds two items:
  state: the whole train state pytree (G, D, optimizer states, EMA, step, rng)
  meta:  JSON: the config it was trained with, class names, software
         version, and the SHA-256 of the state (checked at restore)
Orbax writes each checkpoint to a temporary directory and renames it when
complete, so an interrupted save never leaves a half-written checkpoint.
Saves are synchronous: a save that fails (a full disk) fails in `save`, with
a one-line error, instead of in a background thread at some later step.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import sys
import time
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging as absl_logging
from etils import epath
from orbax.checkpoint import checkpoint_managers

from gan import fingerprint
from gan import storage
from gan.errors import UserError

# Config fields that fix the shapes of the train state: a checkpoint trained
# with other values cannot be resumed.
_STRUCTURAL_FIELDS = ("model", "data.resolution", "data.channels",
                      "data.conditional")


def _get(d: dict, dotted: str):
  for key in dotted.split("."):
    d = d.get(key) if isinstance(d, dict) else None
  return d


def _flatten(prefix: str, value) -> dict[str, Any]:
  if isinstance(value, dict):
    out = {}
    for k, v in value.items():
      out.update(_flatten(f"{prefix}.{k}", v))
    return out
  return {prefix: value}


def config_differences(saved: dict, current: dict,
                       ignored: tuple[str, ...] = ()) -> list[str]:
  """Structural config fields whose values differ, as 'field: saved -> now'.

  ignored: dotted prefixes the current model never reads (its family's
  `IGNORED_FIELDS`, see `gan.steps.config_differences`); not compared while
  the model name is unchanged.
  """
  diffs = []
  same_model = _get(saved, "model.name") == _get(current, "model.name")
  for field in _STRUCTURAL_FIELDS:
    a = _flatten(field, _get(saved, field))
    b = _flatten(field, _get(current, field))
    for key in sorted(set(a) | set(b)):
      if same_model and ignored and key.startswith(ignored):
        continue
      if a.get(key) != b.get(key):
        diffs.append(f"{key}: {a.get(key)!r} in checkpoint, {b.get(key)!r} now")
  return diffs


class _DropFailureNoise(logging.Filter):
  """Drops the records Orbax's threads and asyncio log (each with a
  traceback) when a save hits a full disk or a restore meets damaged files:
  the Checkpointer reports those itself, in one line."""

  def filter(self, record):
    if record.levelno < logging.ERROR:
      return True
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
      text += f" {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return not (storage.is_disk_full_text(text) or _is_corruption_text(text))


def _drop_failure_unraisables(previous_hook):
  def hook(unraisable):
    text = f"{type(unraisable.exc_value).__name__}: {unraisable.exc_value}"
    if not ("Event loop is closed" in text or _is_corruption_text(text)
            or storage.is_disk_full_text(text)):
      previous_hook(unraisable)
  hook.hides_orbax_failures = True
  return hook


_NOISE_FILTER = _DropFailureNoise()
_failed_before = False  # After a failure, its tasks keep logging when collected.


@contextlib.contextmanager
def _failure_noise_hidden():
  """Around one Orbax save or restore: its failure is reported by us, in one
  line, so the tracebacks its threads would print are hidden.

  When a read or write fails, the coroutines of the other arrays fail too,
  and TensorStore's callbacks still fire into the closed event loop of the
  failed call: Python and asyncio print each as a traceback ("Exception
  ignored in ...", "Task exception was never retrieved"), during the call
  and after it, so after a failure the filter and the hook stay.
  """
  global _failed_before
  handlers = [absl_logging.get_absl_handler(), *logging.getLogger().handlers]
  for handler in handlers:
    handler.addFilter(_NOISE_FILTER)  # Idempotent.
  previous_hook = sys.unraisablehook
  if not getattr(previous_hook, "hides_orbax_failures", False):
    sys.unraisablehook = _drop_failure_unraisables(previous_hook)
  try:
    yield
  except BaseException:
    _failed_before = True
    raise
  else:
    if not _failed_before:
      sys.unraisablehook = previous_hook
      for handler in handlers:
        handler.removeFilter(_NOISE_FILTER)


# Words of TensorStore / Orbax errors that mean "the bytes on disk are bad",
# as opposed to "the checkpoint is of another train state".
_CORRUPTION_MARKERS = ("FAILED_PRECONDITION", "DATA_LOSS", "OUT_OF_RANGE",
                       "corrupt", "Corrupt", "decompress", "Error reading",
                       "Error opening", "NOT_FOUND", "checksum",
                       "JSONDecodeError", "Expecting value", "Unterminated",
                       "Encountered error while reading")
ON_CORRUPT = ("stop", "previous")
# Files of a complete checkpoint (Orbax's layout) whose absence means it was
# damaged after it was written; Orbax would report them as a train state of
# another structure.
_REQUIRED_FILES = ("state/_METADATA", "meta/metadata")


class CorruptCheckpoint(UserError):
  """A checkpoint whose files cannot be read back."""

  def __init__(self, message: str, step: int, kind: str = ""):
    super().__init__(message)
    self.step, self.kind = step, kind


def _is_corruption_text(text: str) -> bool:
  return any(marker in text for marker in _CORRUPTION_MARKERS)


def _is_corruption(error: Exception) -> bool:
  return (isinstance(error, (FileNotFoundError, EOFError))
          or _is_corruption_text(f"{type(error).__name__}: {error}"))


_STATUS_WORDS = ("FAILED_PRECONDITION", "DATA_LOSS", "OUT_OF_RANGE",
                 "NOT_FOUND", "INVALID_ARGUMENT")


def _error_kind(error: Exception) -> str:
  # Orbax wraps TensorStore's precise error ("OUT_OF_RANGE: Error reading
  # 'g_params...' ... byte range ... not valid") in a generic one.
  cause = error
  while cause is not None and not any(w in str(cause) for w in _STATUS_WORDS):
    cause = cause.__cause__ or cause.__context__
  error = cause or error
  first = (str(error).strip().splitlines() or [""])[0]
  first = first.split(" See full TensorStore details")[0]
  # The database path repeats the checkpoint's, which the message names.
  first = re.sub(r' in OCDBT database at local file "[^"]*"', "", first)
  first = re.sub(r'Error opening "(cast|zarr)" driver: ', "", first)
  return f"{type(error).__name__}: {first[:200]}"


class Checkpointer:
  """Saves and restores train states under `<workdir>/checkpoints`."""

  def __init__(self, workdir: str, keep: int = 3, read_only: bool = False):
    workdir = os.fspath(workdir)
    if "://" in workdir:  # A bucket (gs://...): Orbax reads and writes it.
      self.directory = f"{workdir.rstrip('/')}/checkpoints"
    else:
      self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
    if read_only and not epath.Path(self.directory).is_dir():
      raise UserError(f"no checkpoints in workdir {workdir!r} (no "
                      f"{self.directory}); train first with python -m "
                      f"gan.main --workdir={workdir}, or pass the right workdir")
    self.workdir = workdir
    self._keep, self._read_only = keep, read_only
    # Saves that a killed run left half-written (Orbax would also remove
    # them, in the background and silently).
    orphans = ([] if read_only or "://" in workdir else
               sorted(glob.glob(os.path.join(self.directory,
                                             "*.orbax-checkpoint-tmp*"))))
    for orphan in orphans:
      shutil.rmtree(orphan, ignore_errors=True)
      absl_logging.warning("Removed %s: a save that an interrupted run left "
                           "unfinished (the checkpoints before it are "
                           "intact).", orphan)
    self._open()

  def _open(self):
    options = ocp.CheckpointManagerOptions(
        preservation_policy=checkpoint_managers.LatestN(self._keep),
        create=not self._read_only, read_only=self._read_only,
        cleanup_tmp_directories=not self._read_only,
        enable_async_checkpointing=False)
    self._manager = ocp.CheckpointManager(
        self.directory, options=options, item_names=("state", "meta"))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def save(self, step: int, state: Any, meta: dict, force: bool = False) -> bool:
    if jax.process_count() > 1:
      # The state is identical on every process, held as host-local arrays
      # that Orbax refuses multi-host; as numpy it is written once, by
      # process 0.
      state = jax.device_get(state)
    what = f"checkpoint {step}"
    self.require_space(state, what)
    meta = dict(meta, state_sha256=fingerprint.tree_sha256(state))
    try:
      with _failure_noise_hidden():
        return self._manager.save(
            step, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state),
                meta=ocp.args.JsonSave(meta)), force=force)
    except Exception as e:  # TensorStore raises ValueError, the OS OSError.
      if not storage.is_disk_full(e):
        raise
      self._remove_unfinished(step)
      raise storage.disk_full_error(self.directory, self.expected_bytes(state),
                                    what, self._kept()) from None

  def expected_bytes(self, state: Any) -> int:
    """What the next save will take: the size of the latest checkpoint on
    disk, or the state's array bytes before the first one."""
    latest = self.latest_step()
    if latest is not None and not storage.is_remote(self.directory):
      on_disk = storage.tree_bytes(os.path.join(self.directory, str(latest)))
      if on_disk:
        return on_disk
    return int(sum(getattr(leaf, "nbytes", 0)
                   for leaf in jax.tree_util.tree_leaves(state)))

  def require_space(self, state: Any, what: str = "the next checkpoint") -> None:
    """Raises storage.DiskFull (one line) unless a checkpoint of `state` fits."""
    storage.require_space(self.directory, self.expected_bytes(state), what,
                          self._kept())

  def _kept(self) -> str:
    latest = self.latest_step()
    if latest is None:
      return "no checkpoint has been written yet"
    return f"the checkpoint at step {latest} is intact"

  def _remove_unfinished(self, step: int) -> None:
    for tmp in glob.glob(os.path.join(self.directory,
                                      f"{step}.orbax-checkpoint-tmp*")):
      shutil.rmtree(tmp, ignore_errors=True)

  def restore_meta(self, step: int | None = None) -> dict:
    """The meta item (config, class names...); a CorruptCheckpoint when its
    files cannot be read."""
    step = self._resolve(step)
    try:
      with _failure_noise_hidden():
        return self._manager.restore(
            step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
    except Exception as e:  # Orbax/JSON errors of a damaged meta item.
      raise self._corrupt(step, e) from None

  def restore(self, template: Any, config: ml_collections.ConfigDict,
              step: int | None = None,
              ignored_fields: tuple[str, ...] = ()) -> Any:
    """Restores the state saved at `step` (default latest) into `template`.

    Raises a UserError naming the differing fields when the checkpoint was
    trained with a structurally different config, and a CorruptCheckpoint
    (a UserError) naming it and the error kind when its files cannot be
    read.
    """
    step = self._resolve(step)
    meta = self.restore_meta(step)
    saved = meta.get("config", {})
    diffs = config_differences(saved, config.to_dict(), ignored_fields)
    if diffs:
      raise UserError(
          f"workdir checkpoint {self.directory}/{step} was trained with an "
          f"incompatible config ({'; '.join(diffs)}); use a new --workdir, or "
          f"the config it was trained with")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    missing = self._missing_files(step)
    if missing:
      raise self._corrupt(step, FileNotFoundError(
          f"{', '.join(missing)} missing"))
    try:
      with _failure_noise_hidden():
        restored = self._manager.restore(
            step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract)))
    except Exception as e:  # Orbax and TensorStore raise many types.
      if _is_corruption(e):
        raise self._corrupt(step, e) from None
      if not isinstance(e, (ValueError, KeyError)):
        raise
      raise UserError(
          f"checkpoint {self.directory}/{step} does not match this config's "
          f"train state ({str(e).splitlines()[0][:200]}); use a new --workdir "
          f"or the config it was trained with") from e
    expected = meta.get("state_sha256")  # Absent in older checkpoints.
    if expected and fingerprint.tree_sha256(restored.state) != expected:
      raise self._corrupt(step, ValueError(
          "its arrays differ from the SHA-256 recorded when it was saved"))
    return restored.state

  def _missing_files(self, step: int) -> list[str]:
    """Files every complete checkpoint has, absent from this one."""
    if storage.is_remote(self.directory):
      return []
    return [name for name in _REQUIRED_FILES
            if not os.path.exists(os.path.join(self.directory, str(step), name))]

  def _corrupt(self, step: int, error: Exception) -> CorruptCheckpoint:
    earlier = [s for s in self.all_steps() if s < step]
    check = f"python -m gan.check_workdir --workdir={self.workdir} checks them all"
    if earlier and self._read_only:
      before = max(earlier)
      fix = (f"the one before it is step {before} (gan.sample --step={before}, "
             f"gan.evaluate workdir:{self.workdir}@{before}); {check}")
    elif earlier:
      fix = (f"--config.train.on_corrupt_checkpoint=previous resumes from "
             f"step {max(earlier)} and moves step {step} aside to "
             f"{self.corrupt_directory()}/ (never deleted)")
    elif self._read_only:
      fix = "no earlier checkpoint exists: train again, or use another --workdir"
    else:
      fix = ("no earlier checkpoint exists: move it away and rerun to start "
             "from step 0, or use a new --workdir")
    kind = _error_kind(error)
    return CorruptCheckpoint(
        f"checkpoint {self.directory}/{step} cannot be read ({kind}); {fix}",
        step, kind)

  def corrupt_directory(self) -> str:
    return os.path.join(os.path.dirname(self.directory), "corrupt_checkpoints")

  def move_aside(self, step: int) -> str:
    """Moves checkpoint `step` out of the checkpoints folder (kept, for
    inspection); returns where it went."""
    target = os.path.join(self.corrupt_directory(),
                          f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
    self._manager.close()
    os.makedirs(self.corrupt_directory(), exist_ok=True)
    shutil.move(os.path.join(self.directory, str(step)), target)
    self._open()
    return target

  def restore_intact(self, template: Any, config: ml_collections.ConfigDict,
                     on_corrupt: str = "stop",
                     ignored_fields: tuple[str, ...] = ()) -> Any:
    """The latest checkpoint, or with `on_corrupt='previous'` the latest one
    that reads back, moving the unreadable ones aside (logged)."""
    while True:
      try:
        return self.restore(template, config, ignored_fields=ignored_fields)
      except CorruptCheckpoint as e:
        if on_corrupt != "previous" or len(self.all_steps()) < 2:
          raise
        target = self.move_aside(e.step)
        absl_logging.warning("%s. Moved it to %s; resuming from step %d.",
                             str(e).split(";")[0], target,
                             self.latest_step())

  def _resolve(self, step: int | None) -> int:
    steps = self.all_steps()
    if not steps:
      raise UserError(f"no checkpoints in {self.directory}; train first with "
                      f"python -m gan.main, or pass the right --workdir")
    if step is None:
      return max(steps)
    if step not in steps:
      raise UserError(f"no checkpoint at step {step} in {self.directory}; "
                      f"available steps: {sorted(steps)}")
    return step

  def reached_preemption(self, step: int) -> bool:
    return self._manager.reached_preemption(step)

  def wait_until_finished(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
