"""DiffAugment: differentiable, fill value as a parameter, policy errors;
per-image keys do not depend on how the batch is split."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import augment
from gan.augment import diffaugment
from gan.errors import UserError


def _keys(n, seed=0):
  return jax.random.split(jax.random.key(seed), n)


@pytest.mark.parametrize("channels", [1, 3])
def test_diffaugment_is_differentiable(channels):
  x = jnp.asarray(np.random.default_rng(0).uniform(
      -1, 1, (4, 16, 16, channels)).astype(np.float32))
  for policy in diffaugment.POLICIES:
    grad = jax.grad(lambda img: jnp.sum(diffaugment.augment(
        img, _keys(4), (policy,)) ** 2))(x)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0, policy
    out = diffaugment.augment(x, _keys(4), (policy,))
    assert out.shape == x.shape
    assert np.abs(np.asarray(out - x)).max() > 1e-3, policy


def test_translation_and_cutout_fill_with_the_background():
  x = jnp.full((16, 8, 8, 1), 0.5)
  for policy, fill in (("translation", -1.0), ("cutout", -1.0),
                       ("cutout", 0.0)):
    out = np.asarray(diffaugment.augment(x, _keys(16), (policy,),
                                         fill_value=fill))
    assert set(np.unique(out)) <= {0.5, fill}
    assert (out == fill).any()
  # Default fill is -1, the MRI background.
  out = np.asarray(diffaugment.augment(x, _keys(16), ("cutout",)))
  assert out.min() == -1.0


def test_unknown_policy_is_a_user_error():
  with pytest.raises(UserError, match="unknown DiffAugment policy 'zoom'"):
    diffaugment.parse_policy("color,zoom")
  assert diffaugment.parse_policy("color, cutout") == ("color", "cutout")


def test_keys_for_batch_match_across_device_splits():
  key = jax.random.key(3)
  full = jax.random.key_data(augment.keys_for_batch(key, 8))
  f = jax.pmap(lambda _: jax.random.key_data(augment.keys_for_batch(key, 8, 4)),
               axis_name="batch")
  halves = f(jnp.zeros((2,)))
  np.testing.assert_array_equal(np.concatenate(list(halves)), full)
