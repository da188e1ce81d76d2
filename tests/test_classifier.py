"""The downstream classifier: metrics, learning, save/load, augmentation."""
import jax
import numpy as np
import pytest

from configs import classifier_alzheimers
from gan import classifier
from tests import helpers


def test_classification_metrics_by_hand():
  labels = np.array([0, 0, 0, 0, 1, 1, 2])
  preds = np.array([0, 0, 0, 1, 1, 0, 2])
  m = classifier.classification_metrics(labels, preds, ["a", "b", "c"])
  assert m["accuracy"] == pytest.approx(5 / 7)
  assert m["recall"] == {"a": 0.75, "b": 0.5, "c": 1.0}
  assert m["balanced_accuracy"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
  f1_a = 2 * 0.75 * 0.75 / 1.5
  f1_b = 2 * 0.5 * 0.5 / 1.0
  assert m["macro_f1"] == pytest.approx((f1_a + f1_b + 1.0) / 3)


def _config():
  config = classifier_alzheimers.get_config()
  config.data.resolution = 32
  c = config.classifier
  c.widths, c.num_steps, c.batch_size, c.log_every_steps = (8, 16), 60, 16, 20
  c.learning_rate = 3e-3
  return config


def test_learns_a_separable_task_and_round_trips(tmp_path):
  split = helpers.synthetic_split(n=64, num_classes=2)
  config = _config()
  model = classifier.fit(config.classifier, split.images, split.labels,
                         split.class_names, seed=0)
  metrics = model.evaluate(split.images, split.labels)
  assert metrics["accuracy"] > 0.9
  classifier.save(model, config, str(tmp_path))
  loaded = classifier.load(str(tmp_path))
  logits, features = loaded.logits_and_features(split.images[:5])
  want, _ = model.logits_and_features(split.images[:5])
  np.testing.assert_array_equal(logits, want)
  assert features.shape == (5, 16)


def test_classic_augmentation_keeps_range_and_background():
  images = np.full((4, 32, 32, 1), -1.0, np.float32)
  images[:, 8:24, 8:24] = 0.5
  out = np.asarray(classifier._augment_classic(images, jax.random.key(0)))
  assert out.shape == images.shape
  assert out.min() >= -1 and out.max() <= 1
  assert (out[:, 0, 0] == -1).all()                 # corners stay background
  assert np.abs(out - images).max() > 0.05           # it does change images
