"""The pix2pix family (Isola et al., CVPR 2017): paired translation.

One step `(state, batch, rng, phase) -> (state, metrics)` on a batch of
pairs (`gan.paired_data`: source channels, then the target):
  D: the configured loss (the paper's: `nonsaturating`, i.e. BCE) on the
     PatchGAN's logits of (source, target) against (source, G(source)),
     the pair concatenated on channels (a conditional D).
  G: `adversarial_weight` x the loss's generator term on D(source,
     G(source)) against the updated D, plus `l1_weight` (paper: 100) x the
     mean |G(source) - target|. G runs forward once per step (its vjp from
     the D phase is reused). `adversarial_weight = 0` is the same U-Net
     trained with L1 only (a baseline): D is then not trained at all.
  EMA of G's weights when `train.ema_decay` > 0 (the sampler uses it).
Instance norm everywhere, and every mean is a global-batch mean
(`lax.pmean`): results do not depend on the number of devices.
"""
from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp

from gan import losses
from gan import paired_data
from gan import parallel
from gan.errors import UserError
from gan.steps import common
from gan.steps import translation

TASK = translation.TASK
LOSSES = translation.LOSSES
IGNORED_FIELDS = translation.IGNORED_FIELDS


@flax.struct.dataclass
class Pix2PixState:
  step: jax.Array
  g_params: Any
  g_batch_stats: Any         # Empty: instance norm has no statistics.
  d_params: Any
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Any
  rng: jax.Array


def validate(config) -> None:
  section = config.model.pix2pix
  translation.validate(config, section)
  if section.l1_weight < 0 or section.adversarial_weight < 0:
    raise UserError("model.pix2pix.l1_weight and adversarial_weight must be "
                    ">= 0")
  if not section.l1_weight and not section.adversarial_weight:
    raise UserError("model.pix2pix: l1_weight and adversarial_weight are both "
                    "0, so G would learn nothing; set one above 0")


def create_models(config):
  section = config.model.pix2pix
  _, target_channels = translation.channels(config)
  return (translation.generator(config, section, target_channels),
          translation.discriminator(section))


def create_train_state(config, num_classes: int) -> Pix2PixState:
  del num_classes  # Pairs have no classes.
  g, d = create_models(config)
  g_tx, d_tx = translation.optimizers(config)
  res = config.data.resolution
  s, t = translation.channels(config)

  @jax.jit
  def init(key):
    g_key, d_key = jax.random.split(jax.random.fold_in(key, 0))
    g_params = g.init(g_key, jnp.zeros((1, res, res, s)))["params"]
    d_params = d.init(d_key, jnp.zeros((1, res, res, s + t)))["params"]
    return Pix2PixState(
        step=jnp.zeros((), jnp.int32), g_params=g_params, g_batch_stats={},
        d_params=d_params, d_batch_stats={},
        g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params),
        ema_params=g_params, rng=jax.random.key_data(key))

  return init(jax.random.key(config.seed))


def step_phase(config, step: int) -> None:
  del config, step
  return None


def make_train_step(config, num_classes: int):
  """The pure step; batch {"image": [b, R, R, S + T] in [-1, 1], ...}."""
  del num_classes
  g, d = create_models(config)
  g_tx, d_tx = translation.optimizers(config)
  loss = losses.get(config.train.loss)
  section = config.model.pix2pix
  num_source = paired_data.num_source_channels(config)
  adversarial = section.adversarial_weight > 0

  def step(state: Pix2PixState, batch, rng, phase=None):
    del rng, phase  # Deterministic given the batch; one phase.
    source, target = paired_data.split_channels(batch["image"], num_source)
    pair = lambda image: jnp.concatenate([source, image], axis=-1)
    d_logits = lambda params, image: d.apply({"params": params}, pair(image))

    fake, g_vjp = jax.vjp(lambda p: g.apply({"params": p}, source),
                          state.g_params)
    metrics = {}
    d_params, d_opt_state = state.d_params, state.d_opt_state
    if adversarial:
      def d_objective(params):
        real_logits = d_logits(params, target)
        fake_logits = d_logits(params, jax.lax.stop_gradient(fake))
        return loss.d_loss(real_logits, fake_logits), {
            "d_real": jnp.mean(real_logits), "d_fake": jnp.mean(fake_logits)}

      (d_loss, metrics), d_grads = jax.value_and_grad(
          d_objective, has_aux=True)(state.d_params)
      metrics["d_loss"] = d_loss
      d_params, d_opt_state = common.apply_mean_gradients(
          d_tx, d_grads, state.d_opt_state, state.d_params)

    def g_objective(image):
      l1 = jnp.mean(jnp.abs(image - target))
      total, parts = section.l1_weight * l1, {"l1": l1}
      if adversarial:
        parts["g_adversarial"] = loss.g_loss(d_logits(d_params, image))
        total += section.adversarial_weight * parts["g_adversarial"]
      return total, parts

    (g_loss, parts), fake_grad = jax.value_and_grad(
        g_objective, has_aux=True)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_params, g_opt_state = common.apply_mean_gradients(
        g_tx, g_grads, state.g_opt_state, state.g_params)
    metrics.update(parts, g_loss=g_loss)
    metrics = jax.lax.pmean(metrics, parallel.AXIS)
    new_state = state.replace(
        step=state.step + 1, g_params=g_params, d_params=d_params,
        g_opt_state=g_opt_state, d_opt_state=d_opt_state,
        ema_params=translation.ema_params(state.ema_params, g_params,
                                          state.step, config))
    return common.keep_if_finite(new_state, state, metrics)

  return step


def make_generate_fn(config, num_classes: int):
  del num_classes
  g, _ = create_models(config)
  return translation.make_translate_fn(config, g)
