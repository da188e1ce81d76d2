"""Loading the EMA generator from a workdir and sampling from it."""
import numpy as np
import pytest

from gan import input_pipeline
from gan import sampling
from gan import train
from gan.errors import UserError
from tests import helpers


def test_loads_ema_generator_and_samples_deterministically(conditional_workdir):
  workdir, state = conditional_workdir
  gen = sampling.load_generator(str(workdir))
  assert (gen.step, gen.num_classes, gen.resolution, gen.channels) == (2, 3, 32, 1)
  assert gen.class_names == ["class0", "class1", "class2"]
  for a, b in zip(helpers.tree_leaves_np(gen.params),
                  helpers.tree_leaves_np(state.ema_params)):
    np.testing.assert_array_equal(a, b)
  first = np.concatenate(list(gen.sample(10, seed=5, batch_size=4)))
  again = np.concatenate(list(gen.sample(10, seed=5, batch_size=4)))
  other = np.concatenate(list(gen.sample(10, seed=6, batch_size=4)))
  assert first.shape == (10, 32, 32, 1) and first.dtype == np.float32
  assert -1 <= first.min() and first.max() <= 1
  np.testing.assert_array_equal(first, again)
  assert np.abs(first - other).max() > 1e-3


def test_labels_route_to_the_generator(conditional_workdir):
  gen = sampling.load_generator(str(conditional_workdir[0]))
  zeros = next(gen.sample(4, seed=0, labels=[0, 0, 0, 0], batch_size=4))
  twos = next(gen.sample(4, seed=0, labels=[2, 2, 2, 2], batch_size=4))
  assert np.abs(zeros - twos).max() > 1e-4   # same z, other class
  with pytest.raises(UserError, match="class index 3 out of range"):
    next(gen.sample(1, seed=0, labels=[3], batch_size=4))


def test_unconditional_rejects_labels_and_missing_workdir(tmp_path, monkeypatch):
  split = helpers.synthetic_split()
  train.train_and_evaluate(helpers.tiny_config(**{"train.num_steps": 2}),
                           str(tmp_path / "uncond"), split=split)
  gen = sampling.load_generator(str(tmp_path / "uncond"))
  assert gen.num_classes == 0
  with pytest.raises(UserError, match="not class-conditional"):
    next(gen.sample(2, seed=0, labels=[0, 1]))
  with pytest.raises(UserError, match="no checkpoints in workdir"):
    sampling.load_generator(str(tmp_path / "nothing"))
  with pytest.raises(UserError, match="no checkpoint at step 7"):
    sampling.load_generator(str(tmp_path / "uncond"), step=7)


def test_class_index_by_name_or_number():
  from gan.image_sources import class_index
  names = ["MildDemented", "ModerateDemented"]
  assert class_index("ModerateDemented", names, "w") == 1
  assert class_index(" 0", names, "w") == 0
  for bad in ("2", "Moderate", "-1"):
    with pytest.raises(UserError, match=f"no class '{bad}' in w; its classes"):
      class_index(bad, names, "w")
