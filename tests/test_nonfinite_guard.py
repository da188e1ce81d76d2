"""The non-finite guard every family's step ends with (gan.steps.common)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan.steps import common
from gan.steps import dcgan


def _state(values):
  return dcgan.TrainState(
      step=jnp.asarray(3, jnp.int32), g_params={"w": values[0]},
      g_batch_stats={}, d_params={"w": values[1]}, d_batch_stats={},
      g_opt_state=(), d_opt_state=(), ema_params={"w": values[2]},
      rng=jnp.zeros((2,), jnp.uint32))


@pytest.mark.parametrize("bad", [None, "nan", "inf", "metric"])
def test_a_step_is_kept_only_when_everything_is_finite(bad):
  old = _state([jnp.zeros(3), jnp.zeros(2), jnp.zeros(3)])
  new = _state([jnp.ones(3), jnp.ones(2), jnp.ones(3)]).replace(
      step=jnp.asarray(4, jnp.int32))
  metrics = {"d_loss": jnp.float32(0.5)}
  if bad in ("nan", "inf"):
    new = new.replace(d_params={"w": jnp.array([1.0, float(bad)])})
  if bad == "metric":
    metrics = {"d_loss": jnp.float32(np.nan)}
  kept, out = jax.jit(common.keep_if_finite)(new, old, metrics)
  assert int(kept.step) == 4          # The step count advances either way.
  assert float(out["finite"]) == (bad is None)
  expected = 1.0 if bad is None else 0.0
  for leaf in (kept.g_params["w"], kept.d_params["w"], kept.ema_params["w"]):
    np.testing.assert_array_equal(leaf, np.full(leaf.shape, expected))


def test_the_check_is_compiled_once_not_once_per_leaf():
  # XLA:CPU used to fuse the chain of per-leaf checks into every leaf's
  # select: a program quadratic in the number of leaves (a FastGAN step took
  # ~230 s to compile, StyleGAN2's 200 s). Here the optimised program of a
  # 300-leaf state combines the checks with a bounded number of ANDs (it was
  # leaves^2 = 90,000).
  leaves = 300
  tree = {f"p{i}": jnp.ones((4,)) for i in range(leaves)}
  fn = jax.jit(lambda new, old: jax.tree.map(
      lambda n, o, ok=common.finite(new): jnp.where(ok, n, o), new, old))
  hlo = fn.lower(tree, tree).compile().as_text()
  assert hlo.count(" and(") <= 3 * leaves, hlo.count(" and(")
