"""Differentiable image augmentations for GAN discriminators.

`ada`: StyleGAN2-ADA's adaptive pipeline (probability p, adapted in training).
`diffaugment`: DiffAugment (Zhao et al., 2020), fixed policies.
Both take per-image keys so results do not depend on the device count: draw
`keys_for_batch(key, global_batch)` and slice them per device.
"""
from __future__ import annotations

import jax

from gan import parallel


def keys_for_batch(key: jax.Array, global_batch: int, per_device: int | None = None):
  """Per-image keys, [per_device] (inside a mapped step) or [global_batch].

  Keys are split for the whole global batch and sliced with
  `parallel.global_slice`, so image i gets the same key on any device count.
  """
  data = jax.random.key_data(jax.random.split(key, global_batch))
  if per_device is not None:
    data = parallel.global_slice(data, per_device)
  return jax.random.wrap_key_data(data)
