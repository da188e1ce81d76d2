"""Train step and loop: device-count invariance, exact resume, faults."""
import jax
import numpy as np
import pytest

from gan import checkpoint
from gan import steps as families
from gan import input_pipeline
from gan import train
from gan.errors import UserError
from tests import helpers


# Gradient penalties (wgan_gp, R1) through cross-device BatchNorm are left
# out: their D gradients differ between 1 and 2 devices by ~1e-2 (open).
@pytest.mark.parametrize("loss,r1", [("nonsaturating", 0.0), ("hinge", 0.0)])
def test_two_devices_match_one_device(loss, r1):
  assert jax.local_device_count() == 2, "conftest forces two CPU devices"
  config = helpers.tiny_config(**{"data.conditional": True, "train.loss": loss,
                                  "train.r1_gamma": r1})
  split = helpers.synthetic_split()
  one, m1 = helpers.run_steps(config, split, 1, 3)
  two, m2 = helpers.run_steps(config, split, 2, 3)
  for a, b in zip(helpers.tree_leaves_np(one), helpers.tree_leaves_np(two)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
  np.testing.assert_allclose(m1["d_loss"], m2["d_loss"], rtol=1e-4, atol=1e-6)
  # The update really moved the parameters (not a vacuous comparison).
  init = families.create_train_state(config, split.num_classes)
  moved = [np.abs(a - b).max() for a, b in zip(
      helpers.tree_leaves_np(init.g_params), helpers.tree_leaves_np(one.g_params))]
  assert max(moved) > 1e-4


def _train(config, split, workdir, monkeypatch):
  del monkeypatch  # The data is passed in.
  return train.train_and_evaluate(config, str(workdir), split=split)


def test_restart_equals_uninterrupted_run(tmp_path, monkeypatch):
  split = helpers.synthetic_split()
  config = helpers.tiny_config(**{"train.num_steps": 4,
                                  "data.random_flip": True})
  straight = _train(config, split, tmp_path / "straight", monkeypatch)
  config.train.num_steps = 2
  _train(config, split, tmp_path / "resumed", monkeypatch)
  config.train.num_steps = 4
  resumed = _train(config, split, tmp_path / "resumed", monkeypatch)
  assert int(resumed.step) == int(straight.step) == 4
  for a, b in zip(helpers.tree_leaves_np(straight), helpers.tree_leaves_np(resumed)):
    np.testing.assert_array_equal(a, b)
  # Checkpoints, TensorBoard events and PNG grids are in the workdir.
  assert checkpoint.Checkpointer(str(tmp_path / "resumed")).all_steps() == [2, 4]
  assert list((tmp_path / "resumed").glob("events.out.tfevents.*"))
  assert (tmp_path / "resumed" / "samples" / "step_0000004.png").exists()


def test_incompatible_checkpoint_is_refused(tmp_path, monkeypatch):
  split = helpers.synthetic_split()
  config = helpers.tiny_config(**{"train.num_steps": 2})
  _train(config, split, tmp_path, monkeypatch)
  config.model.g_base_channels = 16
  config.train.num_steps = 4
  with pytest.raises(UserError, match=r"incompatible config \(model.g_base_channels: 8"):
    _train(config, split, tmp_path, monkeypatch)


def _corrupt_largest_file(directory):
  """Flips bytes in the middle of the largest file under `directory`."""
  files = [p for p in directory.rglob("*") if p.is_file()]
  largest = max(files, key=lambda p: p.stat().st_size)
  data = bytearray(largest.read_bytes())
  middle = len(data) // 2
  data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
  largest.write_bytes(bytes(data))


def test_corrupt_latest_checkpoint(tmp_path, monkeypatch, caplog):
  split = helpers.synthetic_split()
  config = helpers.tiny_config(**{"train.num_steps": 4})
  workdir = tmp_path / "run"
  four = _train(config, split, workdir, monkeypatch)
  _corrupt_largest_file(workdir / "checkpoints" / "4" / "state")
  orphan = workdir / "checkpoints" / "6.orbax-checkpoint-tmp-1"
  orphan.mkdir()  # What a run killed while saving leaves behind.
  with pytest.raises(UserError) as caught:  # Default: stop, say how.
    _train(config, split, workdir, monkeypatch)
  message = str(caught.value)
  assert "\n" not in message
  assert message.startswith(
      f"checkpoint {workdir / 'checkpoints' / '4'} cannot be read (")
  assert ("--config.train.on_corrupt_checkpoint=previous resumes from step 2 "
          f"and moves step 4 aside to {workdir / 'corrupt_checkpoints'}/ "
          "(never deleted)") in message
  assert not orphan.exists()
  assert any("Removed" in r.getMessage() and "6.orbax-checkpoint-tmp-1" in
             r.getMessage() for r in caplog.records)

  config.train.on_corrupt_checkpoint = "previous"
  again = _train(config, split, workdir, monkeypatch)
  # Steps 3-4 trained again from the good checkpoint: nothing lost.
  for a, b in zip(helpers.tree_leaves_np(four), helpers.tree_leaves_np(again)):
    np.testing.assert_array_equal(a, b)
  assert checkpoint.Checkpointer(str(workdir)).all_steps() == [2, 4]
  moved = list((workdir / "corrupt_checkpoints").iterdir())
  assert len(moved) == 1 and moved[0].name.startswith("4-")
  assert (moved[0] / "state").is_dir()  # Kept, not deleted.


def _nan_after(step_index, batches):
  for i, batch in enumerate(batches):
    if i >= step_index:
      batch = dict(batch, image=np.full_like(batch["image"], np.nan))
    yield batch


@pytest.mark.parametrize("mode", ["stop", "skip"])
def test_nonfinite_loss(tmp_path, monkeypatch, mode):
  split = helpers.synthetic_split()
  config = helpers.tiny_config(**{"train.num_steps": 4,
                                  "train.on_nonfinite": mode})
  real_batches = input_pipeline.train_batches
  monkeypatch.setattr(input_pipeline, "train_batches",
                      lambda *a, **k: _nan_after(2, real_batches(*a, **k)))
  if mode == "stop":
    with pytest.raises(train.TrainingFault, match="non-finite .* step 3.*step 2"):
      _train(config, split, tmp_path, monkeypatch)
    ckpt = checkpoint.Checkpointer(str(tmp_path))
    assert ckpt.all_steps() == [2]
    template = families.create_train_state(config, split.num_classes)
    state = ckpt.restore(template, config)
  else:
    state = _train(config, split, tmp_path, monkeypatch)
    assert int(state.step) == 4
  assert all(np.isfinite(x).all() for x in helpers.tree_leaves_np(state))


@pytest.mark.parametrize("override,message", [
    ({"model.name": "vae"}, "unknown model 'vae'"),
    ({"train.loss": "l2"}, "unknown loss 'l2'"),
    ({"data.resolution": 48}, "unsupported resolution 48"),
    ({"train.batch_size": 3}, "not divisible by the 2 devices"),
    ({"train.on_nonfinite": "ignore"}, "on_nonfinite must be"),
])
def test_bad_config_one_line_errors(override, message):
  config = helpers.tiny_config(**override)
  with pytest.raises(UserError, match=message) as info:
    train.validate_config(config)
    families.create_train_state(config, 2)
  assert "\n" not in str(info.value)


def test_time_budget_stops_with_a_checkpoint_and_resumes(tmp_path, monkeypatch):
  split = helpers.synthetic_split()
  config = helpers.tiny_config(**{"train.num_steps": 6, "log.every_steps": 2,
                                  "log.checkpoint_every_steps": 100,
                                  "log.image_every_steps": 100})
  config.train.time_budget_minutes = 1e-9   # Spent at the first check.
  state = _train(config, split, tmp_path, monkeypatch)
  assert int(state.step) == 2               # Stopped at the first log step ...
  assert checkpoint.Checkpointer(str(tmp_path), read_only=True).latest_step() == 2
  assert (tmp_path / "samples" / "step_0000002.png").exists()  # ... with its grid.
  config.train.time_budget_minutes = None
  assert int(_train(config, split, tmp_path, monkeypatch).step) == 6
