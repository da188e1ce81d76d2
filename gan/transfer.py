"""Transfer: a run that starts from another workdir's trained networks,
optionally with the discriminator's first blocks frozen (FreezeD, Mo et al.
2020), e.g. to adapt a GAN trained on every class to a rare one.

  python -m gan.main --config=configs/fastgan_alzheimers.py --workdir=W2 \\
      --config.transfer.from_workdir=W1 --config.transfer.freeze_d_blocks=2 \\
      --config.data.classes=ModerateDemented

Step 0 of the new run is the source's checkpoint (latest, or
`transfer.from_step`) with its optimizer states, step count and random key
reset: G, D, the EMA generator and every network statistic (BatchNorm,
spectral-norm vectors, StyleGAN2's w average and path-length mean, ADA's p)
carry over. Everything else is this config's: the data (`data.classes`),
learning rates, steps, seed. The source must have the same network (model
section, resolution, channels, conditioning) and, for a conditional model,
the same class names. Once the new workdir holds a checkpoint, a rerun
resumes from it and the source is not read again.

`transfer.freeze_d_blocks=N` keeps the parameters of D's first N blocks
(`gan.models.discriminator_blocks`, from the image side) at the source's
values for the whole run; D's head, and every statistic, still train.
"""
from __future__ import annotations

import dataclasses
import os

import jax
import ml_collections

from gan import checkpoint as checkpoint_lib
from gan import models
from gan import steps
from gan.errors import UserError

# State fields that belong to a training run rather than to the networks.
_RESET_FIELDS = ("step", "g_opt_state", "d_opt_state", "rng")


def _section(config) -> ml_collections.ConfigDict | None:
  return config.get("transfer")


def requested(config) -> bool:
  t = _section(config)
  return bool(t and t.get("from_workdir"))


def validate(config) -> None:
  """One-line UserErrors for transfer settings that cannot work."""
  t = _section(config)
  if not t:
    return
  n = t.get("freeze_d_blocks", 0)
  if isinstance(n, bool) or not isinstance(n, int) or n < 0:
    raise UserError(f"transfer.freeze_d_blocks must be an integer >= 0, got "
                    f"{n!r}")
  if not t.get("from_workdir"):
    if n:
      raise UserError(
          f"transfer.freeze_d_blocks={n} freezes blocks of a trained D: set "
          f"--config.transfer.from_workdir=SOURCE_WORKDIR too, or "
          f"--config.transfer.freeze_d_blocks=0")
    if t.get("from_step") is not None:
      raise UserError("transfer.from_step needs --config.transfer.from_workdir")
    return
  blocks = models.discriminator_blocks(config)
  if n > len(blocks):
    raise UserError(
        f"transfer.freeze_d_blocks={n}, but the {config.model.name} "
        f"discriminator at {config.data.resolution} px has {len(blocks)} "
        f"blocks; set --config.transfer.freeze_d_blocks to 0..{len(blocks)}")


def frozen_d_names(config) -> tuple[str, ...]:
  """Top-level names of D's parameters that stay at the source's values."""
  t = _section(config)
  n = t.get("freeze_d_blocks", 0) if t else 0
  if not n:
    return ()
  return tuple(name for block in models.discriminator_blocks(config)[:n]
               for name in block)


def start_from_source(config, fresh_state, class_names: list[str]):
  """(step-0 state from the source workdir, a record of it for the meta).

  fresh_state: `steps.create_train_state(config, ...)`, whose optimizer
  states, step and key are kept.
  """
  t = config.transfer
  source = t.from_workdir
  if not os.path.isdir(source):
    raise UserError(f"transfer.from_workdir {source} does not exist; point "
                    f"--config.transfer.from_workdir at a trained workdir")
  checkpointer = checkpoint_lib.Checkpointer(source, read_only=True)
  try:
    if checkpointer.latest_step() is None:
      raise UserError(f"transfer.from_workdir {source} holds no checkpoint; "
                      f"train it first, or point at another workdir")
    step = t.get("from_step")
    if step is not None and step not in checkpointer.all_steps():
      raise UserError(f"transfer.from_workdir {source} has no checkpoint at "
                      f"step {step} (it has {checkpointer.all_steps()}); set "
                      f"--config.transfer.from_step to one of those")
    if step is None:
      step = checkpointer.latest_step()
    meta = checkpointer.restore_meta(step)
    diffs = steps.config_differences(meta.get("config", {}), config.to_dict())
    if diffs:
      raise UserError(
          f"transfer.from_workdir {source} has another network "
          f"({'; '.join(diffs)}); transfer keeps the network: run with the "
          f"config it was trained with plus the new data/transfer flags")
    saved_names = list(meta.get("class_names", []))
    if config.data.conditional and saved_names != list(class_names):
      raise UserError(
          f"transfer.from_workdir {source} was trained on classes "
          f"{saved_names}, this data set has {list(class_names)}; a "
          f"conditional model keeps its label space: use the same data set "
          f"(select classes with --config.data.classes)")
    restored = checkpointer.restore(
        fresh_state, config, step,
        ignored_fields=steps.ignored_on_resume(config))
  finally:
    checkpointer.close()
  carried = {f.name: getattr(restored, f.name)
             for f in dataclasses.fields(restored)
             if f.name not in _RESET_FIELDS}
  record = {"from_workdir": os.path.abspath(source),
            "from_step": int(step),
            "freeze_d_blocks": int(t.get("freeze_d_blocks", 0)),
            "frozen_d_params": list(frozen_d_names(config))}
  return fresh_state.replace(**carried), record


def with_frozen_d_blocks(config, step_fn):
  """`step_fn` that keeps the parameters of D's first
  `transfer.freeze_d_blocks` blocks at their incoming values (pure; the
  family's step is unchanged, so FreezeD works for every family)."""
  frozen = frozen_d_names(config)
  if not frozen:
    return step_fn

  def step(state, batch, rng, phase=None):
    new_state, metrics = step_fn(state, batch, rng, phase)
    d_params = dict(new_state.d_params)
    for name in frozen:
      d_params[name] = state.d_params[name]
    return new_state.replace(d_params=type(new_state.d_params)(d_params)), metrics

  return step
