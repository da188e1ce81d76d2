"""Transfer (gan/transfer.py) and class selection (data.classes): what
carries over from the source, what FreezeD keeps fixed, for every family;
one DCGAN run end to end; the refusals."""
import dataclasses

import jax
import numpy as np
import pytest

from configs import fastgan_test
from configs import stylegan2_test
from gan import checkpoint
from gan import input_pipeline
from gan import models
from gan import sampling
from gan import steps
from gan import synthetic_dataset
from gan import train
from gan import transfer
from gan.errors import UserError
from tests import helpers

_CONFIGS = {"dcgan": helpers.tiny_config, "stylegan2": stylegan2_test.get_config,
            "fastgan": fastgan_test.get_config}


def _config(family, **overrides):
  config = _CONFIGS[family]()
  config.data.conditional = True
  return helpers.override(config, **overrides)


@pytest.mark.parametrize("family", sorted(_CONFIGS))
def test_discriminator_blocks_partition_real_parameters(family):
  config = _config(family)
  state = jax.eval_shape(lambda: steps.create_train_state(config, 2))
  blocks = models.discriminator_blocks(config)
  names = [name for block in blocks for name in block]
  assert len(blocks) >= 2 and len(set(names)) == len(names)
  assert set(names) < set(state.d_params), set(names) - set(state.d_params)
  # Something is always left to train: D's head.
  assert set(state.d_params) - set(names)


def _save_fresh_state(config, workdir, class_names, step=5):
  """A checkpoint of a freshly initialised state (stands in for a trained
  one: what matters is which fields carry over)."""
  state = steps.create_train_state(config, len(class_names))
  ckpt = checkpoint.Checkpointer(str(workdir))
  ckpt.save(step, state, {"config": config.to_dict(),
                          "class_names": class_names,
                          "num_classes": len(class_names)}, force=True)
  ckpt.wait_until_finished()
  ckpt.close()
  return state


@pytest.mark.parametrize("family", sorted(_CONFIGS))
def test_start_from_source_carries_networks_and_resets_the_run(family, tmp_path):
  names = ["a", "b"]
  source_config = _config(family, seed=3)
  source = _save_fresh_state(source_config, tmp_path / "source", names)
  config = _config(family, seed=4, **{
      "transfer.from_workdir": str(tmp_path / "source"),
      "transfer.freeze_d_blocks": 2, "train.num_steps": 99,
      "train.d_learning_rate": 1e-5})
  transfer.validate(config)
  fresh = steps.create_train_state(config, len(names))
  state, record = transfer.start_from_source(config, fresh, names)
  for field in dataclasses.fields(state):
    got = helpers.tree_leaves_np(getattr(state, field.name))
    want = helpers.tree_leaves_np(getattr(
        fresh if field.name in ("step", "g_opt_state", "d_opt_state", "rng")
        else source, field.name))
    assert len(got) == len(want)
    for a, b in zip(got, want):
      np.testing.assert_array_equal(a, b, err_msg=field.name)
  # The seeds differ, so "equal to the source" is not "equal to fresh".
  assert not all(np.array_equal(a, b) for a, b in zip(
      helpers.tree_leaves_np(state.g_params),
      helpers.tree_leaves_np(fresh.g_params)))
  assert record["from_step"] == 5 and record["freeze_d_blocks"] == 2
  assert record["frozen_d_params"] == list(
      models.discriminator_blocks(config)[0] + models.discriminator_blocks(config)[1])

  # FreezeD around any step: the frozen blocks keep their incoming values,
  # everything else is the step's.
  def moving_step(s, batch, rng, phase=None):
    del batch, rng, phase
    return s.replace(d_params=jax.tree.map(lambda x: x + 1.0, s.d_params),
                     g_params=jax.tree.map(lambda x: x + 1.0, s.g_params)), {}

  moved, _ = transfer.with_frozen_d_blocks(config, moving_step)(state, None, None)
  frozen = set(record["frozen_d_params"])
  for name in state.d_params:
    before = helpers.tree_leaves_np(state.d_params[name])
    after = helpers.tree_leaves_np(moved.d_params[name])
    for a, b in zip(before, after):
      if name in frozen:
        np.testing.assert_array_equal(a, b, err_msg=name)
      else:
        np.testing.assert_allclose(b, a + 1.0, err_msg=name)
  np.testing.assert_allclose(helpers.tree_leaves_np(moved.g_params)[0],
                             helpers.tree_leaves_np(state.g_params)[0] + 1.0)


def test_transfer_to_one_class_end_to_end(tmp_path):
  """A conditional DCGAN trained on two classes, adapted to one with two D
  blocks frozen: the frozen blocks stay the source's, the rest trains, the
  run sees only that class, and its samples are written under its name."""
  split = helpers.synthetic_split()
  config = _config("dcgan", **{"train.num_steps": 2})
  train.train_and_evaluate(config, str(tmp_path / "source"), split=split)
  source_ckpt = checkpoint.Checkpointer(str(tmp_path / "source"), read_only=True)
  source = source_ckpt.restore(steps.create_train_state(config, 2), config)
  source_ckpt.close()

  adapted = _config("dcgan", **{
      "train.num_steps": 2, "data.classes": "class1",
      "transfer.from_workdir": str(tmp_path / "source"),
      "transfer.freeze_d_blocks": 2})
  state = train.train_and_evaluate(adapted, str(tmp_path / "adapted"),
                                   split=split)
  assert int(state.step) == 2
  frozen = transfer.frozen_d_names(adapted)
  assert frozen == ("Conv_0", "Conv_1", "BatchNorm_0")
  for name in state.d_params:
    same = all(np.array_equal(a, b) for a, b in zip(
        helpers.tree_leaves_np(state.d_params[name]),
        helpers.tree_leaves_np(source.d_params[name])))
    assert same == (name in frozen), name
  assert not all(np.array_equal(a, b) for a, b in zip(
      helpers.tree_leaves_np(state.g_params),
      helpers.tree_leaves_np(source.g_params)))

  meta = checkpoint.Checkpointer(str(tmp_path / "adapted"),
                                 read_only=True).restore_meta()
  assert meta["classes"] == ["class1"]
  assert meta["class_names"] == ["class0", "class1"]
  assert meta["transfer"]["from_step"] == 2
  generator = sampling.load_generator(str(tmp_path / "adapted"))
  assert generator.drawn_labels == [1]
  assert synthetic_dataset.output_class_names(generator) == ["class1"]


def test_class_selection_keeps_the_label_space():
  split = helpers.synthetic_split(n=12, num_classes=3)
  config = helpers.tiny_config(**{"data.classes": "class2, class0"})
  chosen = input_pipeline.select_classes(split, config.data)
  assert chosen.class_names == split.class_names
  assert sorted(set(chosen.labels.tolist())) == [0, 2] and len(chosen) == 8
  np.testing.assert_array_equal(chosen.images, split.images[split.labels != 1])
  again = input_pipeline.select_classes(chosen, config.data)  # Idempotent.
  np.testing.assert_array_equal(again.labels, chosen.labels)
  assert input_pipeline.selected_class_names(
      config.data, split.class_names) == ["class0", "class2"]
  with pytest.raises(UserError, match=r"no class \['Moderate'\] .*its classes "
                     r"are \['class0', 'class1', 'class2'\]"):
    input_pipeline.select_classes(split, helpers.tiny_config(
        **{"data.classes": "Moderate"}).data)
  two = helpers.synthetic_split(n=12, num_classes=2)
  three_names = input_pipeline.Split(two.images, two.labels,
                                     ["class0", "class1", "class2"])
  with pytest.raises(UserError, match=r"has no images of \['class2'\]"):
    input_pipeline.select_classes(three_names, helpers.tiny_config(
        **{"data.classes": "class2"}).data)


def test_transfer_refusals(tmp_path):
  with pytest.raises(UserError, match="set --config.transfer.from_workdir"):
    transfer.validate(_config("dcgan", **{"transfer.freeze_d_blocks": 1}))
  with pytest.raises(UserError, match=r"has 3 blocks; set --config.transfer."
                     r"freeze_d_blocks to 0..3"):
    transfer.validate(_config("dcgan", **{"transfer.from_workdir": "x",
                                          "transfer.freeze_d_blocks": 4}))
  names = ["a", "b"]
  config = _config("dcgan", **{"transfer.from_workdir": str(tmp_path / "none")})
  fresh = steps.create_train_state(config, 2)
  with pytest.raises(UserError, match="does not exist"):
    transfer.start_from_source(config, fresh, names)
  (tmp_path / "empty").mkdir()
  config.transfer.from_workdir = str(tmp_path / "empty")
  with pytest.raises(UserError, match="no checkpoints in workdir"):
    transfer.start_from_source(config, fresh, names)
  _save_fresh_state(_config("dcgan", **{"model.d_base_channels": 16}),
                    tmp_path / "wider", names)
  config.transfer.from_workdir = str(tmp_path / "wider")
  with pytest.raises(UserError, match=r"has another network \(model."
                     r"d_base_channels: 16 in checkpoint, 8 now\)"):
    transfer.start_from_source(config, fresh, names)
  _save_fresh_state(_config("dcgan"), tmp_path / "other_classes", ["x", "y"])
  config.transfer.from_workdir = str(tmp_path / "other_classes")
  with pytest.raises(UserError, match=r"trained on classes \['x', 'y'\]"):
    transfer.start_from_source(config, fresh, names)
  config.transfer.from_step = 7
  with pytest.raises(UserError, match=r"no checkpoint at step 7 \(it has \[5\]\)"):
    transfer.start_from_source(config, fresh, names)
