"""Shared test fixtures: tiny configs and synthetic in-memory splits."""
import numpy as np

from configs import test as test_config
from gan import input_pipeline


def tiny_config(**overrides):
  config = test_config.get_config()
  for dotted, value in overrides.items():
    node = config
    *parents, leaf = dotted.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


def synthetic_split(n=24, resolution=32, channels=1, num_classes=2, seed=0):
  """Blobs of different brightness per class: [n, R, R, C] uint8."""
  rng = np.random.default_rng(seed)
  labels = (np.arange(n) % num_classes).astype(np.int32)
  yy, xx = np.mgrid[:resolution, :resolution]
  disc = ((yy - resolution / 2) ** 2 + (xx - resolution / 2) ** 2) < (resolution / 3) ** 2
  images = np.zeros((n, resolution, resolution, channels), np.uint8)
  for i, label in enumerate(labels):
    value = 120 + 60 * label + rng.integers(-20, 20)
    images[i, disc] = value
  return input_pipeline.Split(images, labels,
                              [f"class{c}" for c in range(num_classes)])


def tree_leaves_np(tree):
  import jax
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]
