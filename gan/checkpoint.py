"""Checkpoints through Orbax, behind one small interface (Orbax's API moves).

A checkpoint holds two items:
  state: the whole train state pytree (G, D, optimizer states, EMA, step, rng)
  meta:  JSON: the config it was trained with, class names, software version
Orbax writes each checkpoint to a temporary directory and renames it when
complete, so an interrupted save never leaves a half-written checkpoint.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging as absl_logging
from etils import epath
from orbax.checkpoint import checkpoint_managers

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


# Fields of `model` that only one family's networks read: changing them
# cannot break resuming a run of the other family.
_FAMILY_ONLY_FIELDS = {
    "dcgan": ("model.stylegan2.",),
    "stylegan2": ("model.g_base_channels", "model.d_base_channels",
                  "model.label_embed_dim"),
}


def _irrelevant(key: str, model_name) -> bool:
  from gan import models  # Late: models import flax modules we do not need here.
  try:
    family = models.family(model_name)
  except Exception:  # Unknown name: compare everything.
    return False
  return key.startswith(_FAMILY_ONLY_FIELDS.get(family, ()))


def config_differences(saved: dict, current: dict) -> list[str]:
  """Structural config fields whose values differ, as 'field: saved -> now'.

  Fields the current model family never reads (model.stylegan2.* for a
  DCGAN, DCGAN widths for a StyleGAN2) are not compared.
  """
  diffs = []
  model_name = _get(current, "model.name")
  for field in _STRUCTURAL_FIELDS:
    a = _flatten(field, _get(saved, field))
    b = _flatten(field, _get(current, field))
    for key in sorted(set(a) | set(b)):
      if _get(saved, "model.name") == model_name and _irrelevant(key, model_name):
        continue
      if a.get(key) != b.get(key):
        diffs.append(f"{key}: {a.get(key)!r} in checkpoint, {b.get(key)!r} now")
  return diffs


class _DropOrbaxInfo(logging.Filter):

  def filter(self, record):
    return record.levelno >= logging.WARNING or "/orbax/" not in record.pathname


def quiet_orbax_logging() -> None:
  """Hides Orbax's per-save INFO lines (a dozen per checkpoint); keeps warnings."""
  for handler in [absl_logging.get_absl_handler(), *logging.getLogger().handlers]:
    handler.addFilter(_DropOrbaxInfo())


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
    options = ocp.CheckpointManagerOptions(
        preservation_policy=checkpoint_managers.LatestN(keep),
        create=not read_only, read_only=read_only,
        cleanup_tmp_directories=not read_only)
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
    return self._manager.save(
        step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            meta=ocp.args.JsonSave(meta)), force=force)

  def restore_meta(self, step: int | None = None) -> dict:
    step = self._resolve(step)
    return self._manager.restore(
        step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta

  def restore(self, template: Any, config: ml_collections.ConfigDict,
              step: int | None = None) -> Any:
    """Restores the state saved at `step` (default latest) into `template`.

    Raises a UserError naming the differing fields when the checkpoint was
    trained with a structurally different config.
    """
    step = self._resolve(step)
    saved = self.restore_meta(step).get("config", {})
    diffs = config_differences(saved, config.to_dict())
    if diffs:
      raise UserError(
          f"workdir checkpoint {self.directory}/{step} was trained with an "
          f"incompatible config ({'; '.join(diffs)}); use a new --workdir, or "
          f"the config it was trained with")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    try:
      restored = self._manager.restore(
          step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))
    except (ValueError, KeyError) as e:
      raise UserError(
          f"checkpoint {self.directory}/{step} does not match this config's "
          f"train state ({str(e).splitlines()[0][:200]}); use a new --workdir "
          f"or the config it was trained with") from e
    return restored.state

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
