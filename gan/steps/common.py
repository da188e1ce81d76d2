"""Pieces every GAN family's step shares, with one meaning each.

`dummy_labels` for initialisation, the non-finite guard (`finite` +
`keep_if_finite`), the data-parallel optimizer update, R1, the exponential
moving average of G's weights (with the DCGAN/FastGAN ramp-up), and the
sampler of a family without truncation.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gan import parallel
from gan.errors import UserError


def dummy_labels(config, n: int):
  """Labels to initialise a conditional model with (None if unconditional)."""
  return jnp.zeros((n,), jnp.int32) if config.data.conditional else None


def finite(tree) -> jax.Array:
  """Whether every leaf of `tree` is finite (a bool scalar).

  The guard's one semantics, in every family: a step is kept only when its
  metrics and the state it produced (parameters, optimizer moments,
  statistics) are all finite. A non-finite gradient always shows there
  (Adam turns it into NaN parameters), and so does any other fault.
  """
  checks = jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
                      if jnp.issubdtype(x.dtype, jnp.inexact)])
  # The smallest check, through a sort: XLA:CPU would otherwise rewrite the
  # reduction into a chain of scalar ANDs and fuse a copy of that chain into
  # every consumer (each leaf's select in `keep_if_finite`), a program
  # quadratic in the number of leaves: a 445-leaf FastGAN step compiled in
  # ~230 s. A sort is never fused or unrolled, so the check is computed
  # once. (An optimization barrier does not survive XLA:CPU's pipeline.)
  return jnp.sort(checks.astype(jnp.int32))[0] > 0


def keep_if_finite(new_state, state, metrics: dict):
  """(the state to keep, metrics with "finite"): a non-finite step is
  dropped whole, but its step count advances so that the data order stays
  a function of the step. The loop decides whether to stop or go on."""
  ok = finite((metrics, new_state))
  metrics = dict(metrics, finite=ok.astype(jnp.float32))
  kept = jax.tree.map(lambda new, old: jnp.where(ok, new, old), new_state,
                      state)
  return kept.replace(step=state.step + 1), metrics


def apply_mean_gradients(tx, grads, opt_state, params):
  """One optimizer update with the gradients averaged over the devices
  (`parallel.AXIS`): (new params, new optimizer state)."""
  grads = jax.lax.pmean(grads, parallel.AXIS)
  updates, opt_state = tx.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state


def r1_penalty(d_fn, images) -> jax.Array:
  """Per-image |grad_x d_fn(x)|^2: [B]. d_fn maps [B, ...] -> [B] logits."""
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(images)
  return jnp.sum(jnp.square(grads), axis=tuple(range(1, images.ndim)))


def ema(ema_params, params, decay):
  """decay * ema + (1 - decay) * params, leaf by leaf."""
  return jax.tree.map(lambda e, p: p + decay * (e - p), ema_params, params)


def ema_decay_with_rampup(step, decay: float) -> jax.Array:
  """min(decay, (1 + step) / (10 + step)): early EMA weights follow G
  closely, so early samples are not dominated by the initialisation."""
  step_f = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + step_f) / (10.0 + step_f))


def without_truncation(config, generate):
  """The family's sampler `(params, batch_stats, z, labels, truncation=1.0)`
  around `generate(params, batch_stats, z, labels)`, refusing a truncation
  the family does not have."""

  def generate_fn(params, batch_stats, z, labels, truncation=1.0):
    if truncation != 1.0:
      raise UserError(f"model {config.model.name!r} has no truncation; "
                      f"sample with truncation 1.0")
    return generate(params, batch_stats, z, labels)

  return generate_fn
