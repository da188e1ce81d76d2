"""The optimised train step (one G forward, vjp reuse, pmap) against a
straightforward single-device implementation of the same DCGAN update."""
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan import losses
from gan import parallel
from gan import steps as families
from gan.steps import dcgan as dcgan_steps
from gan import train
from tests import helpers


def reference_step(config, state, real, z):
  generator, discriminator = dcgan_steps.create_models(config, 0)
  g_tx, d_tx = dcgan_steps.create_optimizers(config)
  loss = losses.get(config.train.loss)

  def d_logits(d_params, stats, x):
    out, mut = discriminator.apply({"params": d_params, "batch_stats": stats},
                                   x, None, mutable=["batch_stats"])
    return out, mut["batch_stats"]

  def g_images(g_params):
    out, mut = generator.apply(
        {"params": g_params, "batch_stats": state.g_batch_stats}, z, None,
        mutable=["batch_stats"])
    return out, mut["batch_stats"]

  fake, g_stats = g_images(state.g_params)

  def d_objective(d_params):
    r, stats = d_logits(d_params, state.d_batch_stats, real)
    f, stats = d_logits(d_params, stats, fake)
    return loss.d_loss(r, f), stats

  (_, d_stats), d_grads = jax.value_and_grad(d_objective, has_aux=True)(state.d_params)
  updates, d_opt = d_tx.update(d_grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)

  def g_objective(g_params):
    images, _ = g_images(g_params)
    f, stats = d_logits(d_params, d_stats, images)
    return loss.g_loss(f), stats

  (g_loss, d_stats), g_grads = jax.value_and_grad(g_objective, has_aux=True)(state.g_params)
  updates, g_opt = g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, updates)
  return g_params, d_params, g_stats, d_stats, g_loss


def test_step_matches_straightforward_reference():
  config = helpers.tiny_config()
  split = helpers.synthetic_split()
  state = families.create_train_state(config, 0)
  batch = {"image": split.images[:8].astype(np.float32) / 127.5 - 1,
           "label": split.labels[:8]}
  rng = jax.random.key(3)
  step = parallel.data_parallel_step(families.make_train_step(config, 0),
                                     devices=jax.local_devices()[:1])
  new_state, metrics = step(state, parallel.shard(batch, 1), rng)
  z_key, _ = jax.random.split(rng)
  z = jax.random.normal(z_key, (8, config.model.latent_dim))
  g_params, d_params, g_stats, d_stats, g_loss = reference_step(
      config, state, jnp.asarray(batch["image"]), z)
  np.testing.assert_allclose(metrics["g_loss"], g_loss, rtol=1e-5)
  for got, want in [(new_state.g_params, g_params), (new_state.d_params, d_params),
                    (new_state.g_batch_stats, g_stats),
                    (new_state.d_batch_stats, d_stats)]:
    for a, b in zip(helpers.tree_leaves_np(got), helpers.tree_leaves_np(want)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
