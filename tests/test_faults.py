"""Faults a long run meets: each is one line, and no completed step beyond
the last good checkpoint is lost.

Here: damaged checkpoints (truncated, missing files; gan.check_workdir) and
a full disk (gan.storage: the free-space probe patched at the boundary, a
write that fails with ENOSPC, and a real 1 MB file system where one can be
mounted). Elsewhere: flipped bytes in an array file and an orphaned
temporary directory (tests/test_train.py), SIGKILL during a save
(tests/test_preemption.py), config typos (tests/test_config_errors.py).
"""
import io
import os
import shutil
import subprocess

import numpy as np
import orbax.checkpoint as ocp
import pytest

from gan import check_workdir
from gan import checkpoint
from gan import steps as families
from gan import pixels
from gan import input_pipeline
from gan import sampling
from gan import storage
from gan import synthetic_dataset
from gan import train
from gan.errors import UserError
from tests import helpers


def _train(config, split, workdir, monkeypatch):
  del monkeypatch  # The data is passed in.
  return train.train_and_evaluate(config, str(workdir), split=split)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """A 4-step tiny run with checkpoints at steps 2 and 4: (workdir, config,
  split, final state). Tests copy the workdir before damaging it."""
  split = helpers.synthetic_split()
  config = helpers.tiny_config(**{"train.num_steps": 4})
  workdir = tmp_path_factory.mktemp("faults") / "run"
  with pytest.MonkeyPatch.context() as monkeypatch:
    state = _train(config, split, workdir, monkeypatch)
  return workdir, config, split, state


def _copy(run, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(run[0], workdir)
  return workdir


def _largest_file(directory):
  files = [p for p in directory.rglob("*") if p.is_file()]
  return max(files, key=lambda p: p.stat().st_size)


def _truncate(path):
  path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


FAULTS = {
    # A power cut mid-write on a file system without ordered writes.
    "truncated array file": lambda c: _truncate(_largest_file(c / "state")),
    "missing state metadata": lambda c: (c / "state" / "_METADATA").unlink(),
    "empty meta item": lambda c: (c / "meta" / "metadata").write_bytes(b""),
    "missing state item": lambda c: shutil.rmtree(c / "state"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_damaged_checkpoint_one_line_and_check_workdir(run, tmp_path,
                                                       monkeypatch, fault):
  _, config, split, _ = run
  workdir = _copy(run, tmp_path)
  FAULTS[fault](workdir / "checkpoints" / "4")
  with pytest.raises(UserError) as caught:
    _train(config, split, workdir, monkeypatch)
  message = str(caught.value)
  assert "\n" not in message and "Traceback" not in message
  assert message.startswith(
      f"checkpoint {workdir / 'checkpoints' / '4'} cannot be read ("), message
  assert "--config.train.on_corrupt_checkpoint=previous resumes from step 2" in message

  out = io.StringIO()
  reports = check_workdir.check_workdir(str(workdir), out=out)
  assert [(r.step, r.problem is None) for r in reports] == [(2, True), (4, False)]
  text = out.getvalue()
  assert "step         2" in text and "intact" in text
  assert "DAMAGED: " in text
  assert "the latest intact one is step 2" in text
  # Reading only: nothing moved, nothing removed.
  assert checkpoint.Checkpointer(str(workdir), read_only=True).all_steps() == [2, 4]

  # Read-only users (gan.sample, gan.evaluate) are told about the earlier one.
  with pytest.raises(UserError, match=r"the one before it is step 2 "
                     r"\(gan\.sample --step=2"):
    sampling.load_generator(str(workdir))


def test_truncated_checkpoint_resumes_from_previous_bit_identical(
    run, tmp_path, monkeypatch):
  _, config, split, four = run
  workdir = _copy(run, tmp_path)
  FAULTS["truncated array file"](workdir / "checkpoints" / "4")
  config = helpers.override(config.copy_and_resolve_references(), **{"train.on_corrupt_checkpoint": "previous"})
  again = _train(config, split, workdir, monkeypatch)
  for a, b in zip(helpers.tree_leaves_np(four), helpers.tree_leaves_np(again)):
    np.testing.assert_array_equal(a, b)
  moved = list((workdir / "corrupt_checkpoints").iterdir())
  assert len(moved) == 1 and (moved[0] / "state").is_dir()
  out = io.StringIO()
  assert all(r.problem is None
             for r in check_workdir.check_workdir(str(workdir), out=out))
  assert "moved aside earlier: " in out.getvalue()


def test_missing_descriptive_metadata_still_restores(run, tmp_path):
  """_CHECKPOINT_METADATA only describes a checkpoint (times, item names):
  without it the arrays read back exactly, checked by their SHA-256."""
  _, config, _, four = run
  workdir = _copy(run, tmp_path)
  (workdir / "checkpoints" / "4" / "_CHECKPOINT_METADATA").unlink()
  restored = checkpoint.Checkpointer(str(workdir), read_only=True).restore(
      families.create_train_state(config, 1), config)
  for a, b in zip(helpers.tree_leaves_np(four), helpers.tree_leaves_np(restored)):
    np.testing.assert_array_equal(a, b)


def test_check_workdir_binary_exit_status(run, tmp_path):
  workdir = _copy(run, tmp_path)
  command = [os.sys.executable, "-m", "gan.check_workdir", f"--workdir={workdir}"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  good = subprocess.run(command, capture_output=True, text=True, env=env,
                        timeout=300)
  assert good.returncode == 0, good.stderr[-2000:]
  assert "all 2 intact; training resumes from step 4" in good.stdout
  FAULTS["truncated array file"](workdir / "checkpoints" / "4")
  bad = subprocess.run(command, capture_output=True, text=True, env=env,
                       timeout=300)
  assert bad.returncode == 1
  assert "Traceback" not in bad.stderr and "Exception ignored" not in bad.stderr
  assert "DAMAGED: " in bad.stdout


# A full disk.


def _free_space(monkeypatch, free):
  monkeypatch.setattr(storage, "free_bytes", lambda path: free)


def _state_of(run):
  workdir, config, _, state = run
  return config, train._replicate_on_local_devices(state)  # pylint: disable=protected-access


def test_disk_full_at_the_boundary_keeps_the_last_checkpoint(
    run, tmp_path, monkeypatch):
  workdir = _copy(run, tmp_path)
  config, state = _state_of(run)
  checkpointer = checkpoint.Checkpointer(str(workdir))
  needed = storage.with_margin(checkpointer.expected_bytes(state))
  # The size of the latest checkpoint on disk decides.
  assert checkpointer.expected_bytes(state) == storage.tree_bytes(
      str(workdir / "checkpoints" / "4"))
  _free_space(monkeypatch, needed - 1)
  with pytest.raises(storage.DiskFull) as caught:
    checkpointer.save(6, state, {"config": config.to_dict()}, force=True)
  message = str(caught.value)
  assert "\n" not in message
  assert message.startswith(
      f"not enough disk space for checkpoint 6 at {workdir / 'checkpoints'}: "
      f"it needs {storage.human(needed)}, {storage.human(needed - 1)} free; "
      f"the checkpoint at step 4 is intact; "), message
  assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4"]  # Nothing half-written.
  restored = checkpoint.Checkpointer(str(workdir), read_only=True).restore(
      families.create_train_state(config, 1), config)
  for a, b in zip(helpers.tree_leaves_np(run[3]), helpers.tree_leaves_np(restored)):
    np.testing.assert_array_equal(a, b)

  _free_space(monkeypatch, needed)  # Exactly enough: saved.
  checkpointer.save(6, state, {"config": config.to_dict()}, force=True)
  assert checkpointer.all_steps() == [2, 4, 6]
  checkpointer.close()


def test_training_refuses_to_start_without_room_for_a_checkpoint(
    run, tmp_path, monkeypatch):
  _, config, split, _ = run
  workdir = _copy(run, tmp_path)
  _free_space(monkeypatch, 1000)
  config = helpers.override(config.copy_and_resolve_references(), **{"train.num_steps": 6})
  with pytest.raises(storage.DiskFull, match=(
      r"^not enough disk space for the next checkpoint at .*: it needs "
      r"[0-9.]+ MB, 1.0 KB free; the checkpoint at step 4 is intact; free "
      r"space on that disk")):
    _train(config, split, workdir, monkeypatch)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4"]


def test_disk_filling_during_a_save(run, tmp_path, monkeypatch):
  """The probe said yes, then the disk filled (another process): the
  failed save leaves no temporary directory and the last one intact."""
  workdir = _copy(run, tmp_path)
  config, state = _state_of(run)
  checkpointer = checkpoint.Checkpointer(str(workdir))

  def fails_like_tensorstore(step, *args, **kwargs):
    (workdir / "checkpoints" / f"{step}.orbax-checkpoint-tmp").mkdir()
    raise ValueError('RESOURCE_EXHAUSTED: Error writing "g_params/0" in OCDBT '
                     'database: No space left on device [os_error_code=\'28\']')

  monkeypatch.setattr(checkpointer._manager, "save", fails_like_tensorstore)  # pylint: disable=protected-access
  with pytest.raises(storage.DiskFull, match="not enough disk space for "
                     "checkpoint 6 at .*the checkpoint at step 4 is intact"):
    checkpointer.save(6, state, {"config": config.to_dict()}, force=True)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4"]


def test_whole_files_or_none(tmp_path, monkeypatch):
  grid = np.zeros((10, 10, 1), np.uint8)
  path = tmp_path / "samples" / "step_0000002.png"
  pixels.save_png(grid, str(path))
  before = path.read_bytes()
  _free_space(monkeypatch, 10)
  with pytest.raises(storage.DiskFull, match=r"^not enough disk space for a "
                     r"sample grid at .*samples: it needs 1\.0 MB, 10 B free"):
    pixels.save_png(grid + 255, str(path))
  assert path.read_bytes() == before  # The old file untouched.
  monkeypatch.undo()

  def no_space(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(os, "replace", no_space)  # ENOSPC at the last moment.
  with pytest.raises(storage.DiskFull):
    storage.write_json(str(tmp_path / "results.json"), {"fid": 1.0}, "results")
  assert sorted(os.listdir(tmp_path)) == ["samples"]  # No temporary left.


def test_gan_sample_checks_space_before_writing(conditional_workdir, tmp_path,
                                                monkeypatch):
  workdir, _ = conditional_workdir
  generator = sampling.load_generator(str(workdir))
  output = tmp_path / "synthetic"
  per_image = generator.config.data.resolution ** 2 + 300
  _free_space(monkeypatch, storage.with_margin(30 * per_image) - 1)
  with pytest.raises(storage.DiskFull, match=(
      rf"^not enough disk space for 30 synthetic images at {tmp_path}: .*; "
      rf"nothing was written to {output}; ")):
    synthetic_dataset.write_dataset(
        generator, str(output), {n: 10 for n in generator.class_names}, seed=0)
  assert os.listdir(tmp_path) == []


@pytest.fixture
def small_disk(tmp_path):
  """A real 1 MB file system (tmpfs); skipped where mounting is not allowed."""
  mount_point = tmp_path / "small_disk"
  mount_point.mkdir()
  result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                           str(mount_point)], capture_output=True)
  if result.returncode != 0:
    pytest.skip("cannot mount a tmpfs here (needs root)")
  try:
    yield mount_point
  finally:
    subprocess.run(["umount", str(mount_point)], check=True)


def test_real_full_disk_mid_save(run, small_disk, monkeypatch):
  """On a 1 MB disk a second tiny checkpoint (~0.5 MB) does not fit. With
  the probe silenced, the write itself hits ENOSPC inside TensorStore: one
  line, no traceback printed, and the first checkpoint restores."""
  _, config, split, _ = run
  monkeypatch.setattr(storage, "free_bytes", lambda path: None)
  workdir = small_disk / "run"
  config = helpers.override(config.copy_and_resolve_references(), **{"log.image_every_steps": 1000})
  with pytest.raises(storage.DiskFull, match=(
      r"^not enough disk space for checkpoint 4 at .*the checkpoint at step 2 "
      r"is intact")):
    _train(config, split, workdir, monkeypatch)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["2"]
  restored = checkpoint.Checkpointer(str(workdir), read_only=True).restore(
      families.create_train_state(config, 1), config)
  assert int(restored.step) == 2


def test_labelled_rows_of_a_conditional_grid():
  """Not a fault, but the same module writes it: each class row of a grid
  gets its name on the left; the images are untouched."""
  images = np.full((6, 16, 16, 1), 128, np.uint8)
  grid = pixels.make_grid(images, rows=3)
  labelled = pixels.label_rows(grid, ["Mild", "NonDemented", "Moderate"])
  width = labelled.shape[1] - grid.shape[1]
  assert labelled.shape[0] == grid.shape[0] and width > 20
  np.testing.assert_array_equal(labelled[:, width:], grid)
  text = labelled[:, :width, 0]
  for row in range(3):  # Ink in every row's band, none in the gaps.
    band = text[2 + row * 18: 2 + row * 18 + 16]
    assert (band > 128).sum() > 10, row
  assert (text[:2] == 0).all()


def test_tensorboard_stops_writing_on_a_full_disk_and_training_goes_on(
    tmp_path, monkeypatch, caplog):
  from gan import metric_writers
  writer = metric_writers.create_writer(str(tmp_path / "tb"))
  writer.write_scalars(1, {"loss": 1.0})
  writer.flush()
  assert not writer.stopped
  _free_space(monkeypatch, 200_000)  # Less than an image grid and the margin.
  with caplog.at_level("WARNING"):
    writer.write_images(2, {"grid": np.zeros((64, 64, 3), np.uint8)})
    writer.write_scalars(3, {"loss": 0.5})   # Quietly dropped from now on.
    writer.flush()
    writer.close()
  assert writer.stopped
  warnings = [r.getMessage() for r in caplog.records
              if "TensorBoard events" in r.getMessage()]
  assert len(warnings) == 1
  assert (f"TensorBoard events in {tmp_path / 'tb'} are no longer written: "
          f"the disk is full (200.0 KB free)") in warnings[0]


def test_tensorboard_on_a_real_full_disk(small_disk, caplog):
  """TF's event writer drops events on a full disk without an error (this
  test, with the probe silenced, once saw every write "succeed"), so the
  free-space probe is what stops the events: on a real 1 MB disk, at once."""
  from gan import metric_writers
  writer = metric_writers.create_writer(str(small_disk / "tb"))
  with caplog.at_level("WARNING"):
    writer.write_images(0, {"grid": np.zeros((64, 64, 3), np.uint8)})
    writer.write_scalars(0, {"loss": 1.0})
    writer.close()
  assert writer.stopped
  assert sum("are no longer written: the disk is full" in r.getMessage()
             for r in caplog.records) == 1
