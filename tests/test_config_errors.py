"""Mistyped config fields, wrong types and missing or broken config files:
one line each (`error: ...`), naming the field or file and the nearest valid
name, never a traceback (`gan.errors.parse_flags`, used by every binary that
takes --config)."""
import os
import subprocess
import sys

import pytest

from tests import conftest

# The parser alone, with the binaries' --config flag (fast: no JAX or TF).
_DRIVER = """
from absl import app
from ml_collections import config_flags
from gan import errors
config_flags.DEFINE_config_file("config", None, "", lock_config=True)
app.run(lambda argv: print("parsed"), flags_parser=errors.parse_flags)
"""


def _run(*args, module=None):
  command = ([sys.executable, "-m", module] if module
             else [sys.executable, "-c", _DRIVER])
  result = subprocess.run(command + list(args), cwd=conftest.REPO_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert "Traceback" not in result.stderr, result.stderr[-2000:]
  lines = result.stderr.strip().splitlines()
  return result.returncode, lines[-1] if lines else ""


@pytest.mark.parametrize("args, expected", [
    (["--config=configs/mri_demo.py", "--config.train.batchsize=8"],
     "error: --config.train.batchsize: the config has no field 'batchsize'; "
     "did you mean --config.train.batch_size? configs/default.py lists every "
     "field"),
    (["--config=configs/mri_demo.py", "--config.trian.batch_size=8"],
     "error: --config.trian.batch_size: the config has no field 'trian'; did "
     "you mean --config.train.batch_size?"),
    (["--config=configs/mri_demo.py", "--config.train.batch_size=abc"],
     "error: flag --config.train.batch_size=abc: invalid literal for int() "
     "with base 10: 'abc'"),
    (["--config=configs/nope.py"],
     "error: config file configs/nope.py does not exist; pass one of the "
     "files in configs/ (e.g. --config=configs/mri_demo.py)"),
])
def test_one_line_config_errors(args, expected):
  code, last = _run(*args)
  assert code == 1
  assert last.startswith(expected), last


def test_broken_config_files(tmp_path):
  syntax = tmp_path / "syntax.py"
  syntax.write_text("def get_config(:\n")
  raising = tmp_path / "raising.py"
  raising.write_text("def get_config():\n  return 1 / 0\n")
  code, last = _run(f"--config={syntax}")
  assert code == 1 and last == (
      f"error: config file {syntax} failed to load (SyntaxError, line 1: "
      f"invalid syntax); fix it, or start from configs/default.py")
  code, last = _run(f"--config={raising}")
  assert code == 1 and last == (
      f"error: config file {raising} failed to load (ZeroDivisionError: "
      f"division by zero); fix it, or start from configs/default.py")
  code, last = _run("--config=configs/mri_demo.py")  # A good one still loads.
  assert code == 0


def test_training_binary_uses_it(tmp_path):
  code, last = _run("--config=configs/test.py", f"--workdir={tmp_path}",
                    "--config.train.batchsize=8", module="gan.main")
  assert code == 1
  assert last.startswith("error: --config.train.batchsize: the config has no "
                         "field 'batchsize'; did you mean "
                         "--config.train.batch_size?")


def test_library_noise_is_hidden_and_the_rest_kept():
  import logging
  from gan import quiet_logging
  noise = quiet_logging._FILTER  # pylint: disable=protected-access

  def record(path, level, message):
    return logging.LogRecord("absl", level, path, 1, message, None, None)

  orbax = "/x/site-packages/orbax/checkpoint/checkpoint_manager.py"
  assert not noise.filter(record(orbax, logging.INFO, "Saving checkpoint"))
  assert not noise.filter(record(orbax, logging.WARNING,
                                 "Given directory is read only=/w"))
  assert noise.filter(record(orbax, logging.WARNING, "something else"))
  assert noise.filter(record(orbax, logging.ERROR, "a real error"))
  bridge = "/x/site-packages/jax/_src/xla_bridge.py"
  assert not noise.filter(record(bridge, logging.INFO,
                                 "Unable to initialize backend 'tpu'"))
  assert noise.filter(record(bridge, logging.WARNING,
                             "Unable to initialize backend 'cuda'"))
  assert noise.filter(record("/w/gan/train.py", logging.INFO, "step 2/2"))
  builder = "/x/site-packages/tensorflow_datasets/core/dataset_builder.py"
  assert not noise.filter(record(builder, logging.WARNING,
                                 "Using custom data configuration: X"))
  assert noise.filter(record(builder, logging.WARNING, "a real problem"))


def test_tensorflow_import_banner_is_hidden_and_other_lines_kept():
  import os
  import threading
  from gan import quiet_logging
  # The filter itself: banner lines dropped, anything else forwarded.
  read_fd, write_fd = os.pipe()
  out_read, out_write = os.pipe()
  forwarder = threading.Thread(target=quiet_logging._forward,  # pylint: disable=protected-access
                               args=(read_fd, out_write))
  forwarder.start()
  os.write(write_fd, b"I0000 port.cc:153] oneDNN custom operations are on.\n"
           b"F0000 a fatal error\nE0000 cpu_feature_guard.cc] This "
           b"TensorFlow binary is optimized to use available CPU "
           b"instructions\n")
  os.close(write_fd)
  forwarder.join()
  os.close(out_write)
  with os.fdopen(out_read, "rb") as forwarded:
    assert forwarded.read() == b"F0000 a fatal error\n"
  # A fresh process: importing gan, then TensorFlow, prints no banner, even
  # with TensorFlow's C++ info lines on (which banner lines TF prints depends
  # on the CPU: oneDNN's only where oneDNN is on, e.g. with AVX-512).
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0")
  result = subprocess.run(
      [sys.executable, "-c", "import gan, tensorflow, sys; "
       "print('after', file=sys.stderr)"], capture_output=True, text=True,
      check=True, timeout=300, env=env)
  assert result.stderr == "after\n"
  shown = subprocess.run(
      [sys.executable, "-c", "import tensorflow"], capture_output=True,
      text=True, check=True, timeout=300, env=env)
  assert ("oneDNN custom operations" in shown.stderr  # What it hides.
          or "This TensorFlow binary is optimized" in shown.stderr)
