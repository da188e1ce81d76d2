"""The CycleGAN family (Zhu et al., ICCV 2017): unpaired translation.

Domains: A = the source modalities, B = the target. Two generators
(G_ab: A -> B, the one that samples and is evaluated; G_ba: B -> A) and two
PatchGAN discriminators (D_a, D_b, unconditional). One step:
  G: the loss's generator term on D_b(G_ab(a)) and D_a(G_ba(b)), plus
     `cycle_weight` (paper: 10) x (|G_ba(G_ab(a)) - a| + |G_ab(G_ba(b)) - b|),
     plus `identity_weight` x cycle_weight x (|G_ab(b) - b| + |G_ba(a) - a|)
     (paper: 0.5; needs as many source as target channels).
  D: the loss (paper: `least_squares`, halved) on real images against
     fakes drawn from an image pool (Shrivastava et al. 2017; paper: 50
     images per domain): once the pool is full, each new fake is, with
     probability 1/2, swapped for a random earlier one (which it replaces
     in the pool). The pool is part of the state (exact resume), and is
     updated with the global batch in one order on every device, so results
     do not depend on the number of devices.
The batch holds pairs (`gan.paired_data`), but no loss compares a
translation with its own pair's target: the pairs are used only by the
evaluation, as in the paper's experiments with paired test sets.
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
class CycleGANState:
  step: jax.Array
  g_params: Any              # {"ab": G_ab, "ba": G_ba}
  g_batch_stats: Any         # Empty: instance norm.
  d_params: Any              # {"a": D_a, "b": D_b}
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Any            # EMA of g_params.
  rng: jax.Array
  pool_a: jax.Array          # [pool_size, R, R, S] earlier fakes of A.
  pool_b: jax.Array          # [pool_size, R, R, T] earlier fakes of B.
  pool_count: jax.Array      # int32: images in the pools (<= pool_size).


def validate(config) -> None:
  section = config.model.cyclegan
  translation.validate(config, section)
  if section.cycle_weight < 0 or section.identity_weight < 0:
    raise UserError("model.cyclegan.cycle_weight and identity_weight must be "
                    ">= 0")
  if section.pool_size < 0:
    raise UserError("model.cyclegan.pool_size must be >= 0 (0 = no pool)")
  s, t = translation.channels(config)
  if section.identity_weight and s != t:
    raise UserError(
        f"model.cyclegan.identity_weight needs as many source as target "
        f"channels (G_ab(b) ~ b), but the source has {s} and the target {t}; "
        f"set --config.model.cyclegan.identity_weight=0")


def create_models(config):
  section = config.model.cyclegan
  s, t = translation.channels(config)
  return (translation.generator(config, section, t),
          translation.generator(config, section, s),
          translation.discriminator(section))


def create_train_state(config, num_classes: int) -> CycleGANState:
  del num_classes
  g_ab, g_ba, d = create_models(config)
  g_tx, d_tx = translation.optimizers(config)
  res = config.data.resolution
  s, t = translation.channels(config)
  size = config.model.cyclegan.pool_size

  @jax.jit
  def init(key):
    k = jax.random.split(jax.random.fold_in(key, 0), 4)
    g_params = {"ab": g_ab.init(k[0], jnp.zeros((1, res, res, s)))["params"],
                "ba": g_ba.init(k[1], jnp.zeros((1, res, res, t)))["params"]}
    d_params = {"a": d.init(k[2], jnp.zeros((1, res, res, s)))["params"],
                "b": d.init(k[3], jnp.zeros((1, res, res, t)))["params"]}
    return CycleGANState(
        step=jnp.zeros((), jnp.int32), g_params=g_params, g_batch_stats={},
        d_params=d_params, d_batch_stats={},
        g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params),
        ema_params=g_params, rng=jax.random.key_data(key),
        pool_a=jnp.zeros((size, res, res, s)),
        pool_b=jnp.zeros((size, res, res, t)),
        pool_count=jnp.zeros((), jnp.int32))

  return init(jax.random.key(config.seed))


def step_phase(config, step: int) -> None:
  del config, step
  return None


def query_pool(pool, count, images, key):
  """(new pool, what D sees) for a batch of new fakes (global, in order).

  While the pool has room, a fake goes in and is returned; once full, with
  probability 1/2 a random pooled image is returned and the fake takes its
  place, else the fake itself is returned.
  """
  size = pool.shape[0]
  if not size:
    return pool, images

  def one(carry, inputs):
    pool, count = carry
    image, k = inputs
    swap_key, index_key = jax.random.split(k)
    full = count >= size
    index = jax.random.randint(index_key, (), 0, size)
    use_old = full & (jax.random.uniform(swap_key) < 0.5)
    out = jnp.where(use_old, pool[index], image)
    slot = jnp.where(full, index, count)
    updated = pool.at[slot].set(image)
    pool = jnp.where(~full | use_old, updated, pool)
    return (pool, jnp.minimum(count + 1, size)), out

  keys = jax.random.split(key, images.shape[0])
  (pool, _), out = jax.lax.scan(one, (pool, count), (images, keys))
  return pool, out


def make_train_step(config, num_classes: int):
  del num_classes
  g_ab, g_ba, d = create_models(config)
  g_tx, d_tx = translation.optimizers(config)
  loss = losses.get(config.train.loss)
  section = config.model.cyclegan
  num_source = paired_data.num_source_channels(config)
  cycle_w = section.cycle_weight
  identity_w = section.identity_weight * section.cycle_weight

  def step(state: CycleGANState, batch, rng, phase=None):
    del phase
    a, b = paired_data.split_channels(batch["image"], num_source)
    per_device = a.shape[0]
    key_a, key_b = jax.random.split(rng)
    l1 = lambda x, y: jnp.mean(jnp.abs(x - y))
    d_apply = lambda params, x: d.apply({"params": params}, x)

    def g_objective(g_params):
      fake_b = g_ab.apply({"params": g_params["ab"]}, a)
      fake_a = g_ba.apply({"params": g_params["ba"]}, b)
      parts = {
          "g_adversarial": (loss.g_loss(d_apply(state.d_params["b"], fake_b))
                            + loss.g_loss(d_apply(state.d_params["a"],
                                                  fake_a))),
          "cycle": (l1(g_ba.apply({"params": g_params["ba"]}, fake_b), a)
                    + l1(g_ab.apply({"params": g_params["ab"]}, fake_a), b)),
      }
      total = parts["g_adversarial"] + cycle_w * parts["cycle"]
      if identity_w:
        parts["identity"] = (l1(g_ab.apply({"params": g_params["ab"]}, b), b)
                             + l1(g_ba.apply({"params": g_params["ba"]}, a),
                                  a))
        total += identity_w * parts["identity"]
      return total, (parts, fake_a, fake_b)

    (g_loss, (metrics, fake_a, fake_b)), g_grads = jax.value_and_grad(
        g_objective, has_aux=True)(state.g_params)
    g_params, g_opt_state = common.apply_mean_gradients(
        g_tx, g_grads, state.g_opt_state, state.g_params)

    # The pools see the global batch, in one order, on every device.
    gather = lambda x: jax.lax.all_gather(jax.lax.stop_gradient(x),
                                          parallel.AXIS, tiled=True)
    pool_a, seen_a = query_pool(state.pool_a, state.pool_count,
                                gather(fake_a), key_a)
    pool_b, seen_b = query_pool(state.pool_b, state.pool_count,
                                gather(fake_b), key_b)
    seen_a = parallel.global_slice(seen_a, per_device)
    seen_b = parallel.global_slice(seen_b, per_device)

    def d_objective(d_params):
      real_a, real_b = d_apply(d_params["a"], a), d_apply(d_params["b"], b)
      return (loss.d_loss(real_a, d_apply(d_params["a"], seen_a))
              + loss.d_loss(real_b, d_apply(d_params["b"], seen_b))), {
                  "d_real": 0.5 * (jnp.mean(real_a) + jnp.mean(real_b))}

    (d_loss, d_metrics), d_grads = jax.value_and_grad(
        d_objective, has_aux=True)(state.d_params)
    d_params, d_opt_state = common.apply_mean_gradients(
        d_tx, d_grads, state.d_opt_state, state.d_params)
    metrics.update(d_metrics, d_loss=d_loss, g_loss=g_loss)
    metrics = jax.lax.pmean(metrics, parallel.AXIS)
    global_batch = per_device * jax.lax.psum(1, parallel.AXIS)
    new_state = state.replace(
        step=state.step + 1, g_params=g_params, d_params=d_params,
        g_opt_state=g_opt_state, d_opt_state=d_opt_state,
        ema_params=translation.ema_params(state.ema_params, g_params,
                                          state.step, config),
        pool_a=pool_a, pool_b=pool_b,
        pool_count=jnp.minimum(state.pool_count + global_batch,
                               state.pool_a.shape[0]))
    return common.keep_if_finite(new_state, state, metrics)

  return step


def make_generate_fn(config, num_classes: int):
  """Translates A -> B with the EMA of G_ab."""
  del num_classes
  g_ab, _, _ = create_models(config)
  return translation.make_translate_fn(config, g_ab,
                                       select=lambda params: params["ab"])
