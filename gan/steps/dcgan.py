"""The DCGAN family: state, optimizers and the pure train step.

One step `(state, batch, rng, phase) -> (state, metrics)`, as in the
pytorch/examples DCGAN: one D update (the configured loss, optionally a
WGAN-GP gradient penalty or R1), then one G update against the updated D;
Adam for both; an EMA of G's weights with a ramp-up. G runs forward once per
step: its vjp from the D phase is reused for the G gradient. Inside a
device-mapped function the step sees the per-device batch; latents are drawn
globally and sliced per device, and gradients, BatchNorm statistics and
metrics are averaged over `parallel.AXIS`, so the result does not depend on
the number of devices.
"""
from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from gan import losses
from gan import models
from gan import parallel
from gan.errors import UserError
from gan.steps import common

# Losses this family's step runs (WGAN-GP's penalty is applied here).
LOSSES = ("nonsaturating", "hinge", "wgan_gp")

# Config fields only other families read: set away from their defaults, they
# are named by `gan.steps.validate`, and never compared on resume.
IGNORED_FIELDS = ("augment.", "train.r1_interval",
                  "train.pl_", "train.style_mixing_prob", "train.ema_kimg",
                  "train.ema_rampup")


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


def validate(config) -> None:
  if config.get("augment") and config.augment.kind != "none":
    raise UserError(f"augment.kind={config.augment.kind!r} needs a StyleGAN2 "
                    f"model; set --config.model.name=stylegan2 or "
                    f"--config.augment.kind=none")


def create_models(config, num_classes: int, bn_axis_name=None):
  """(generator, discriminator); num_classes is 0 for unconditional models."""
  return models.create(config, num_classes if config.data.conditional else 0,
                       bn_axis_name=bn_axis_name)


def create_optimizers(config) -> tuple[optax.GradientTransformation, ...]:
  t = config.train
  g_tx = optax.adam(t.g_learning_rate, b1=t.adam_b1, b2=t.adam_b2)
  d_tx = optax.adam(t.d_learning_rate, b1=t.adam_b1, b2=t.adam_b2)
  return g_tx, d_tx


def create_train_state(config, num_classes: int) -> TrainState:
  """Initial state for `config`; a pure function of config.seed."""
  generator, discriminator = create_models(config, num_classes)
  g_tx, d_tx = create_optimizers(config)
  res, ch = config.data.resolution, config.data.channels

  @jax.jit  # One compiled program instead of hundreds of eager init ops.
  def init(key):
    g_key, d_key = jax.random.split(jax.random.fold_in(key, 0))
    # Two examples so that BatchNorm's variance is defined at init.
    g_vars = generator.init(g_key, jnp.zeros((2, config.model.latent_dim)),
                            common.dummy_labels(config, 2))
    d_vars = discriminator.init(d_key, jnp.zeros((2, res, res, ch)),
                                common.dummy_labels(config, 2))
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_batch_stats=g_vars.get("batch_stats", {}),
        d_params=d_vars["params"], d_batch_stats=d_vars.get("batch_stats", {}),
        g_opt_state=g_tx.init(g_vars["params"]),
        d_opt_state=d_tx.init(d_vars["params"]),
        ema_params=g_vars["params"],
        rng=jax.random.key_data(key))

  return init(jax.random.key(config.seed))


def step_phase(config, step: int) -> None:
  """DCGAN steps have one phase."""
  del config, step
  return None


def make_train_step(config, num_classes: int):
  """The pure step `(state, batch, rng, phase=None) -> (state, metrics)`.

  batch: {"image": [b, R, R, C] float32 in [-1, 1], "label": [b] int32}.
  """
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
    del phase  # One phase.
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
        aux["r1_penalty"] = jnp.mean(common.r1_penalty(
            lambda x: d_apply(d_params, state.d_batch_stats, x, labels)[0],
            real))
        total = total + 0.5 * t.r1_gamma * aux["r1_penalty"]
      return total, (stats, aux)

    (_, (d_batch_stats, metrics)), d_grads = jax.value_and_grad(
        d_objective, has_aux=True)(state.d_params)
    d_params, d_opt_state = common.apply_mean_gradients(
        d_tx, d_grads, state.d_opt_state, state.d_params)

    # ---- Generator update, against the updated D ----
    def g_objective(fake_images):
      logits, stats = d_apply(d_params, d_batch_stats, fake_images, labels)
      return loss.g_loss(logits), stats

    (g_loss, d_batch_stats), fake_grad = jax.value_and_grad(
        g_objective, has_aux=True)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_params, g_opt_state = common.apply_mean_gradients(
        g_tx, g_grads, state.g_opt_state, state.g_params)

    ema_params = common.ema(state.ema_params, g_params,
                            common.ema_decay_with_rampup(state.step,
                                                         t.ema_decay))

    metrics["g_loss"] = g_loss
    metrics = jax.lax.pmean(metrics, parallel.AXIS)
    new_state = TrainState(
        step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
        d_params=d_params, d_batch_stats=d_batch_stats, g_opt_state=g_opt_state,
        d_opt_state=d_opt_state, ema_params=ema_params, rng=state.rng)
    return common.keep_if_finite(new_state, state, metrics)

  return step


def make_generate_fn(config, num_classes: int):
  """`(params, batch_stats, z, labels, truncation=1.0) -> images [B, R, R, C]`
  in [-1, 1].

  BatchNorm uses the statistics of the batch being generated, as during
  training (and as pytorch/examples samples): generate in batches of a fixed
  size for reproducible results. There is no truncation.
  """
  generator, _ = create_models(config, num_classes)

  @jax.jit
  def _generate(params, batch_stats, z, labels):
    images, _ = generator.apply({"params": params, "batch_stats": batch_stats},
                                z, labels, mutable=["batch_stats"])
    return images

  return common.without_truncation(config, _generate)
