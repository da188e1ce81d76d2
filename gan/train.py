"""GAN training: pure train step, state creation, and the training loop.

Reading order: `TrainState`, `create_models`, `create_train_state`,
`make_train_step` (the pure step), `generate`, `train_and_evaluate`.
"""
from __future__ import annotations

import functools
import math
import os
import signal
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging

import gan
from gan import checkpoint as checkpoint_lib
from gan import image_grid
from gan import input_pipeline
from gan import losses
from gan import metric_writers
from gan import models
from gan import parallel
from gan import periodic_eval
from gan.errors import UserError


@flax.struct.dataclass
class TrainState:
  """Everything needed to continue a run exactly (and nothing else)."""
  step: jax.Array            # int32 scalar: completed train steps.
  g_params: Any
  g_batch_stats: Any
  d_params: Any
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Any            # EMA of g_params: the generator that samples.
  rng: jax.Array             # uint32[2]: the run's base key (raw key data).


class TrainingFault(Exception):
  """Training cannot continue (e.g. non-finite losses); checkpoints are safe."""


def _family(config) -> str:
  return models.family(config.model.name)


def _stylegan2_steps():
  from gan.steps import stylegan2 as steps  # pylint: disable=g-import-not-at-top
  return steps


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises a one-line UserError for config values that cannot work."""
  losses.get(config.train.loss)
  models.get_module(config.model.name)
  if _family(config) == "stylegan2":
    _stylegan2_steps().validate(config)
  elif config.get("augment") and config.augment.kind != "none":
    raise UserError(f"augment.kind={config.augment.kind!r} needs a StyleGAN2 "
                    f"model; set --config.model.name=stylegan2 or "
                    f"--config.augment.kind=none")
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


def create_models(config, num_classes: int, bn_axis_name=None):
  """(generator, discriminator); num_classes is 0 for unconditional models."""
  return models.create(config, num_classes if config.data.conditional else 0,
                       bn_axis_name=bn_axis_name)


def create_optimizers(config) -> tuple[optax.GradientTransformation, ...]:
  t = config.train
  g_tx = optax.adam(t.g_learning_rate, b1=t.adam_b1, b2=t.adam_b2)
  d_tx = optax.adam(t.d_learning_rate, b1=t.adam_b1, b2=t.adam_b2)
  return g_tx, d_tx


def _dummy_labels(config, n):
  return jnp.zeros((n,), jnp.int32) if config.data.conditional else None


def create_train_state(config, num_classes: int) -> TrainState:
  """Initial state for `config`; a pure function of config.seed.

  StyleGAN2 models get a `gan.steps.stylegan2.StyleGAN2State` (same field
  names plus ADA and path-length state).
  """
  if _family(config) == "stylegan2":
    return _stylegan2_steps().create_train_state(config, num_classes)
  generator, discriminator = create_models(config, num_classes)
  g_tx, d_tx = create_optimizers(config)
  res, ch = config.data.resolution, config.data.channels

  @jax.jit  # One compiled program instead of hundreds of eager init ops.
  def init(key):
    g_key, d_key = jax.random.split(jax.random.fold_in(key, 0))
    # Two examples so that BatchNorm's variance is defined at init.
    g_vars = generator.init(g_key, jnp.zeros((2, config.model.latent_dim)),
                            _dummy_labels(config, 2))
    d_vars = discriminator.init(d_key, jnp.zeros((2, res, res, ch)),
                                _dummy_labels(config, 2))
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_batch_stats=g_vars.get("batch_stats", {}),
        d_params=d_vars["params"], d_batch_stats=d_vars.get("batch_stats", {}),
        g_opt_state=g_tx.init(g_vars["params"]),
        d_opt_state=d_tx.init(d_vars["params"]),
        ema_params=g_vars["params"],
        rng=jax.random.key_data(key))

  return init(jax.random.key(config.seed))


def _all_finite(tree) -> jax.Array:
  return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def step_phase(config, step: int):
  """The static phase of the step that starts after `step` completed steps:
  StyleGAN2's `Phase` (which lazy regularisers run), None for DCGANs.
  Decided on the host so that each phase is its own compiled program."""
  if _family(config) == "stylegan2":
    return _stylegan2_steps().phase_for_step(config, step)
  return None


def make_train_step(config, num_classes: int):
  """Returns the pure step `(state, batch, rng, phase) -> (state, metrics)`.

  `phase`: `step_phase(config, int(state.step))`, static (a hashable value
  known on the host; map the step with `parallel.data_parallel_step(...,
  phased=True)`). DCGAN steps ignore it and may be called without it.

  One D update, then one G update against the updated D, as in the DCGAN
  reference. G runs forward once per step: its vjp from the D phase is reused
  for the G gradient. Inside a device-mapped function the step sees the
  per-device batch; latents are drawn globally and sliced per device, and
  gradients, BatchNorm statistics and metrics are averaged over
  `parallel.AXIS`, so the result does not depend on the number of devices.

  batch: {"image": [b, R, R, C] float32 in [-1, 1], "label": [b] int32}.
  StyleGAN2 models get the step of `gan.steps.stylegan2`.
  """
  if _family(config) == "stylegan2":
    return _stylegan2_steps().make_train_step(config, num_classes)
  generator, discriminator = create_models(config, num_classes,
                                           bn_axis_name=parallel.AXIS)
  g_tx, d_tx = create_optimizers(config)
  loss = losses.get(config.train.loss)
  t = config.train
  conditional = config.data.conditional

  def d_apply(d_params, batch_stats, images, labels):
    logits, mutated = discriminator.apply(
        {"params": d_params, "batch_stats": batch_stats}, images, labels,
        mutable=["batch_stats"])
    return logits, mutated["batch_stats"]

  def step(state: TrainState, batch, rng, phase=None):
    del phase  # DCGAN steps have one phase.
    real = batch["image"]
    labels = batch["label"] if conditional else None
    per_device = real.shape[0]
    z_key, gp_key = jax.random.split(rng)
    z = parallel.global_slice(
        jax.random.normal(z_key, (t.batch_size, config.model.latent_dim)),
        per_device)

    def g_forward(g_params):
      fake, mutated = generator.apply(
          {"params": g_params, "batch_stats": state.g_batch_stats}, z, labels,
          mutable=["batch_stats"])
      return fake, mutated["batch_stats"]

    fake, g_vjp, g_batch_stats = jax.vjp(g_forward, state.g_params, has_aux=True)

    # ---- Discriminator update ----
    def d_objective(d_params):
      real_logits, stats = d_apply(d_params, state.d_batch_stats, real, labels)
      fake_logits, stats = d_apply(d_params, stats, jax.lax.stop_gradient(fake),
                                   labels)
      d_loss = loss.d_loss(real_logits, fake_logits)
      aux = {"d_loss": d_loss, "d_real": jnp.mean(real_logits),
             "d_fake": jnp.mean(fake_logits)}
      total = d_loss
      if loss.needs_gradient_penalty:
        eps = parallel.global_slice(
            jax.random.uniform(gp_key, (t.batch_size, 1, 1, 1)), per_device)
        mixed = eps * real + (1 - eps) * jax.lax.stop_gradient(fake)
        grads = jax.grad(lambda x: jnp.sum(
            d_apply(d_params, stats, x, labels)[0]))(mixed)
        norms = jnp.sqrt(jnp.sum(grads ** 2, axis=(1, 2, 3)) + 1e-12)
        aux["gradient_penalty"] = jnp.mean((norms - 1.0) ** 2)
        total = total + t.gp_weight * aux["gradient_penalty"]
      if t.r1_gamma > 0:
        grads = jax.grad(lambda x: jnp.sum(
            d_apply(d_params, state.d_batch_stats, x, labels)[0]))(real)
        aux["r1_penalty"] = jnp.mean(jnp.sum(grads ** 2, axis=(1, 2, 3)))
        total = total + 0.5 * t.r1_gamma * aux["r1_penalty"]
      return total, (stats, aux)

    (_, (d_batch_stats, metrics)), d_grads = jax.value_and_grad(
        d_objective, has_aux=True)(state.d_params)
    d_grads = jax.lax.pmean(d_grads, parallel.AXIS)
    d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state,
                                         state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)

    # ---- Generator update, against the updated D ----
    def g_objective(fake_images):
      logits, stats = d_apply(d_params, d_batch_stats, fake_images, labels)
      return loss.g_loss(logits), stats

    (g_loss, d_batch_stats), fake_grad = jax.value_and_grad(
        g_objective, has_aux=True)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_grads = jax.lax.pmean(g_grads, parallel.AXIS)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state,
                                         state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    # EMA with a ramp-up so early samples are not dominated by the init.
    step_f = state.step.astype(jnp.float32)
    decay = jnp.minimum(t.ema_decay, (1.0 + step_f) / (10.0 + step_f))
    ema_params = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p,
                              state.ema_params, g_params)

    metrics["g_loss"] = g_loss
    metrics = jax.lax.pmean(metrics, parallel.AXIS)
    # Non-finite losses or gradients: drop the whole update (the step count
    # still advances so the data order is unchanged). The loop decides
    # whether to stop.
    finite = _all_finite((metrics, d_grads, g_grads))
    metrics["finite"] = finite.astype(jnp.float32)
    new_state = TrainState(
        step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
        d_params=d_params, d_batch_stats=d_batch_stats, g_opt_state=g_opt_state,
        d_opt_state=d_opt_state, ema_params=ema_params, rng=state.rng)
    kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old),
                        new_state, state)
    return kept.replace(step=state.step + 1), metrics

  return step


def make_generate_fn(config, num_classes: int):
  """`(params, batch_stats, z, labels, truncation=1.0) -> images [B, R, R, C]`
  in [-1, 1].

  DCGAN: BatchNorm uses the statistics of the batch being generated, as
  during training (and as pytorch/examples samples): generate in batches of
  a fixed size for reproducible results; it has no truncation.
  StyleGAN2: truncation psi towards the average w (gan.steps.stylegan2).
  """
  if _family(config) == "stylegan2":
    return _stylegan2_steps().make_generate_fn(config, num_classes)
  generator, _ = create_models(config, num_classes)

  @jax.jit
  def _generate(params, batch_stats, z, labels):
    images, _ = generator.apply({"params": params, "batch_stats": batch_stats},
                                z, labels, mutable=["batch_stats"])
    return images

  def generate(params, batch_stats, z, labels, truncation=1.0):
    if truncation != 1.0:
      raise UserError(f"model {config.model.name!r} has no truncation; "
                      f"sample with truncation 1.0")
    return _generate(params, batch_stats, z, labels)

  return generate


def grid_inputs(config, num_classes: int):
  """Fixed latents (and labels: one row per class) for sample grids."""
  n = config.log.grid_size
  if config.data.conditional and num_classes:
    cols = max(1, n // num_classes)
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), cols)
    rows = num_classes
  else:
    labels, rows = None, max(1, int(math.sqrt(n)))
  count = len(labels) if labels is not None else n
  z = jax.random.normal(jax.random.fold_in(jax.random.key(config.seed), 1),
                        (count, config.model.latent_dim))
  return z, labels, rows


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
  the whole step again (a minute for StyleGAN2 on a loaded 2-core CPU).
  """
  if jax.process_count() > 1:
    return state
  mesh = jax.sharding.Mesh(np.array(jax.local_devices()), (parallel.AXIS,))
  return jax.device_put(state, jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec()))


def _format_metrics(metrics: dict[str, float]) -> str:
  return " ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
  """Trains from scratch, or resumes from the latest checkpoint in `workdir`."""
  validate_config(config)
  split = input_pipeline.load_split(config.data)
  num_classes = split.num_classes
  if config.data.conditional and num_classes < 2:
    raise UserError(f"data.conditional needs at least 2 classes; dataset "
                    f"{config.data.name!r} has {num_classes}; set "
                    f"--config.data.conditional=False")
  if len(split) < 2:
    raise UserError(f"dataset {config.data.name!r} has {len(split)} image(s); "
                    f"a GAN needs at least a few dozen")

  checkpointer = checkpoint_lib.Checkpointer(workdir, keep=config.log.keep_checkpoints)
  state = create_train_state(config, num_classes)
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore_intact(
        state, config, config.train.get("on_corrupt_checkpoint", "stop"))
    logging.info("Resumed from step %d in %s", int(state.step), workdir)
  # Said now, not after the steps up to the first save are spent.
  checkpointer.require_space(state)
  state = _replicate_on_local_devices(state)
  meta = {"config": config.to_dict(), "class_names": split.class_names,
          "num_classes": num_classes if config.data.conditional else 0,
          "version": gan.__version__}

  writer = metric_writers.create_writer(workdir)
  try:
    evaluate_periodically = periodic_eval.PeriodicEvaluator(
        config, workdir, split, num_classes, writer)
    start_step = int(state.step)
    p_step = parallel.data_parallel_step(make_train_step(config, num_classes),
                                         phased=True)
    generate = make_generate_fn(config, num_classes)
    grid_z, grid_labels, grid_rows = grid_inputs(config, num_classes)
    base_key = jax.random.wrap_key_data(state.rng)
    batches = input_pipeline.train_batches(split, config, start_step)
    report = metric_writers.progress_reporter(config.train.num_steps)
    global_batch = config.train.batch_size
    logging.info("Training %s on %s (%d images, %d classes) from step %d to %d, "
                 "global batch %d over %d devices", config.model.name,
                 config.data.name, len(split), num_classes, start_step,
                 config.train.num_steps, global_batch, jax.device_count())

    def write_grid(step):
      images = generate(state.ema_params, state.g_batch_stats, grid_z, grid_labels)
      grid = image_grid.make_grid(image_grid.to_uint8(jax.device_get(images)),
                                  rows=grid_rows)
      if grid_labels is not None:  # One row per class: say which.
        grid = image_grid.label_rows(grid, split.class_names)
      if jax.process_index() == 0:
        image_grid.save_png(grid, os.path.join(workdir, "samples",
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
                                step_phase(config, step))
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
