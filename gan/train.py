"""The training loop, for every GAN family.

What a family does (its state, step, sampler) is `gan/steps/`, chosen by
`config.model.name`; this module loads the data, restores or creates the
state, runs the family's pure step under `pmap` (phase by phase), logs,
writes sample grids, checkpoints, evaluates, and stops safely on SIGTERM,
a time budget or a non-finite step.
"""
from __future__ import annotations

import os
import signal
import time

import jax
import ml_collections
import numpy as np
from absl import logging

import gan
from gan import checkpoint as checkpoint_lib
from gan import pixels
from gan import input_pipeline
from gan import metric_writers
from gan import parallel
from gan import steps
from gan import tasks
from gan import transfer
from gan.errors import UserError


class TrainingFault(Exception):
  """Training cannot continue (e.g. non-finite losses); checkpoints are safe."""


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises a one-line UserError for config values that cannot work."""
  steps.validate(config)
  transfer.validate(config)
  if config.train.get("on_corrupt_checkpoint", "stop") not in (
      checkpoint_lib.ON_CORRUPT):
    raise UserError(f"train.on_corrupt_checkpoint must be 'stop' or "
                    f"'previous', got {config.train.on_corrupt_checkpoint!r}")
  if config.train.on_nonfinite not in ("stop", "skip"):
    raise UserError(f"train.on_nonfinite must be 'stop' or 'skip', got "
                    f"{config.train.on_nonfinite!r}")
  if config.train.batch_size < 1:
    raise UserError("train.batch_size must be positive")
  parallel.check_global_batch(config.train.batch_size)


class _PreemptionFlag:
  """Set by SIGTERM (sent before preemption): save, then exit cleanly."""

  def __init__(self):
    self.raised = False
    self._previous = None

  def __enter__(self):
    if jax.process_count() > 1:
      # Multi-host: JAX's preemption service (started by
      # jax.distributed.initialize) catches SIGTERM on any process, and
      # `Checkpointer.reached_preemption` then stops all at the same step;
      # a handler here would replace it and stop one process alone.
      return self
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # Not the main thread (e.g. a notebook worker).
      self._previous = None
    return self

  def _handle(self, signum, frame):
    del signum, frame
    logging.warning("SIGTERM received: saving a checkpoint and exiting.")
    self.raised = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def _replicate_on_local_devices(state):
  """Places the state where the mapped step leaves it (replicated).

  The step returns its unreplicated outputs replicated over the local
  devices; a first input on one device would make the second call compile
  the whole step again (a minute for the largest model on a loaded 2-core
  CPU).
  """
  if jax.process_count() > 1:
    return state
  mesh = jax.sharding.Mesh(np.array(jax.local_devices()), (parallel.AXIS,))
  return jax.device_put(state, jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec()))


def _format_metrics(metrics: dict[str, float]) -> str:
  return " ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       split: input_pipeline.Split | None = None):
  """Trains from scratch, or resumes from the latest checkpoint in `workdir`;
  returns the final state.

  split: the training images; default the task's (`gan.tasks`:
    `input_pipeline.load_split(config.data)`, or pairs for translation)
    (tests and notebooks pass their own; `data.classes` selects from it too).
  """
  validate_config(config)
  task = tasks.get(config)
  if split is None:
    split = task.load_split(config)
  split = input_pipeline.select_classes(split, config.data)
  num_classes = split.num_classes
  drawn = input_pipeline.selected_class_names(config.data, split.class_names)
  if config.data.conditional and num_classes < 2:
    raise UserError(f"data.conditional needs at least 2 classes; dataset "
                    f"{config.data.name!r} has {num_classes}; set "
                    f"--config.data.conditional=False")
  if len(split) < 2:
    raise UserError(f"dataset {config.data.name!r} has {len(split)} image(s); "
                    f"a GAN needs at least a few dozen")

  checkpointer = checkpoint_lib.Checkpointer(workdir, keep=config.log.keep_checkpoints)
  state = steps.create_train_state(config, num_classes)
  transferred = None
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore_intact(
        state, config, config.train.get("on_corrupt_checkpoint", "stop"),
        ignored_fields=steps.ignored_on_resume(config))
    transferred = checkpointer.restore_meta(int(state.step)).get("transfer")
    logging.info("Resumed from step %d in %s", int(state.step), workdir)
  elif transfer.requested(config):
    state, transferred = transfer.start_from_source(config, state,
                                                    split.class_names)
    logging.info("Transfer: starting from %s at step %d, D blocks frozen: %d "
                 "(%s)", transferred["from_workdir"], transferred["from_step"],
                 transferred["freeze_d_blocks"],
                 ", ".join(transferred["frozen_d_params"]) or "none")
  # Said now, not after the steps up to the first save are spent.
  checkpointer.require_space(state)
  state = _replicate_on_local_devices(state)
  meta = {"config": config.to_dict(), "class_names": split.class_names,
          "num_classes": num_classes if config.data.conditional else 0,
          "classes": drawn, "version": gan.__version__}
  if transferred:
    meta["transfer"] = transferred

  writer = metric_writers.create_writer(workdir)
  try:
    evaluate_periodically = task.Evaluator(config, workdir, split,
                                           num_classes, writer)
    start_step = int(state.step)
    p_step = parallel.data_parallel_step(transfer.with_frozen_d_blocks(
        config, steps.make_train_step(config, num_classes)), phased=True)
    render_grid = task.make_grid_fn(
        config, split, drawn, steps.make_generate_fn(config, num_classes))
    base_key = jax.random.wrap_key_data(state.rng)
    batches = input_pipeline.train_batches(split, config, start_step)
    report = metric_writers.progress_reporter(config.train.num_steps)
    global_batch = config.train.batch_size
    logging.info("Training %s on %s (%d images, %d classes) from step %d to %d, "
                 "global batch %d over %d devices", config.model.name,
                 config.data.name, len(split), num_classes, start_step,
                 config.train.num_steps, global_batch, jax.device_count())

    def write_grid(step):
      grid, row_names = render_grid(state)
      if row_names is not None:  # One row per class: say which.
        grid = pixels.label_rows(grid, row_names)
      if jax.process_index() == 0:
        pixels.save_png(grid, os.path.join(workdir, "samples",
                                               f"step_{step:07d}.png"))
      writer.write_images(step, {"samples_ema": grid})

    def save(step):
      checkpointer.save(step, state, meta, force=True)

    pending, window_start, last_good = [], time.time(), checkpointer.latest_step()
    run_start = time.time()
    step = start_step
    out_of_time = False
    with _PreemptionFlag() as preemption:
      while step < config.train.num_steps:
        batch = parallel.shard(next(batches))
        state, metrics = p_step(state, batch, jax.random.fold_in(base_key, step),
                                steps.step_phase(config, step))
        step += 1
        pending.append(metrics)
        report(step)
        if step % config.log.every_steps == 0:
          out_of_time = _time_budget_spent(config, run_start)
        last = step == config.train.num_steps or out_of_time
        at_log = step % config.log.every_steps == 0 or last
        at_ckpt = step % config.log.checkpoint_every_steps == 0 or last
        if at_log or at_ckpt or preemption.raised:
          window = jax.device_get(pending)
          bad = [start for start, m in enumerate(window) if m["finite"] < 1]
          if bad and config.train.on_nonfinite == "stop":
            first_bad = step - len(window) + bad[0] + 1
            checkpointer.wait_until_finished()
            kept = (f"the last good checkpoint (step {last_good}) is intact"
                    if last_good is not None else "no checkpoint was written")
            raise TrainingFault(
                f"non-finite loss or gradient at step {first_bad} "
                f"({_format_metrics(window[bad[0]])}); {kept}; lower the "
                f"learning rates or set --config.train.on_nonfinite=skip")
          means = {k: float(np.mean([m[k] for m in window])) for k in window[0]}
          elapsed = time.time() - window_start
          means["steps_per_sec"] = len(window) / elapsed
          means["images_per_sec"] = len(window) * global_batch / elapsed
          means["skipped_steps"] = float(len(bad))
          means.pop("finite")
          writer.write_scalars(step, means)
          logging.info("step %d/%d | %s", step, config.train.num_steps,
                       _format_metrics(means))
          pending, window_start = [], time.time()
        if step % config.log.image_every_steps == 0 or last:
          write_grid(step)
        if at_ckpt or preemption.raised or checkpointer.reached_preemption(step):
          save(step)
          last_good = step
          if preemption.raised or checkpointer.reached_preemption(step):
            logging.warning("Preempted: checkpoint saved at step %d; run the same "
                            "command to resume.", step)
            break
        evaluate_periodically(step, state, last)
        if out_of_time:
          logging.info("Time budget of %.1f minutes spent: stopped at step %d "
                       "(checkpoint saved; raise train.num_steps or the budget "
                       "and rerun to continue).",
                       config.train.time_budget_minutes, step)
          break
    checkpointer.wait_until_finished()
    return state
  finally:
    # Also after a fault: a failed run must not keep the workdir's files open.
    _close_quietly(writer, checkpointer)


def _close_quietly(*closables) -> None:
  """Closes each; a close that fails (a full disk cannot take the last
  events) is logged, so it cannot hide the error that ended the run."""
  for closable in closables:
    try:
      closable.close()
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("Could not close %s: %s", type(closable).__name__,
                      " ".join(str(e).split())[:200])


def _time_budget_spent(config, run_start: float) -> bool:
  """Whether this invocation has used config.train.time_budget_minutes.

  Checked at logging steps only; on several processes process 0's clock
  decides, so that every process stops (and saves) at the same step.
  """
  budget = config.train.get("time_budget_minutes")
  if not budget:
    return False
  spent = (time.time() - run_start) / 60 >= budget
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    spent = bool(multihost_utils.broadcast_one_to_all(np.asarray(spent)))
  return spent
