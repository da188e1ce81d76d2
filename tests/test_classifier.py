"""The downstream classifier: metrics, learning, save/load, augmentation."""
import jax
import numpy as np
import pytest

from configs import classifier_alzheimers
from gan import classifier
from gan.errors import UserError
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
  assert m["confusion"] == [[3, 1, 0], [1, 1, 0], [0, 0, 1]]


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


def test_balanced_class_weights_by_hand():
  w = classifier.balanced_class_weights(np.array([0, 0, 0, 1]), 3)
  np.testing.assert_allclose(w, [4 / 9, 4 / 3, 0.0], rtol=1e-6)
  # Each present class weighs the same in total.
  assert 3 * w[0] == pytest.approx(1 * w[1])


def test_weighted_cross_entropy_matches_numpy():
  rng = np.random.default_rng(0)
  logits = rng.standard_normal((6, 3)).astype(np.float32)
  labels = np.array([0, 1, 2, 0, 0, 1])
  weights = np.array([0.5, 2.0, 3.0], np.float32)
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  ce = -log_p[np.arange(6), labels]
  w = weights[labels]
  got = float(classifier.weighted_cross_entropy(logits, labels, weights))
  assert got == pytest.approx((w * ce).sum() / w.sum(), rel=1e-5)
  assert float(classifier.weighted_cross_entropy(logits, labels)) == (
      pytest.approx(ce.mean(), rel=1e-5))


def test_class_weighted_loss_changes_training_only_on_imbalanced_data():
  config = _config()
  c = config.classifier
  c.num_steps = 10
  balanced = helpers.synthetic_split(n=32, num_classes=2)
  idx = np.concatenate([np.flatnonzero(balanced.labels == 0),
                        np.flatnonzero(balanced.labels == 1)[:3]])
  skewed = type(balanced)(balanced.images[idx], balanced.labels[idx],
                          balanced.class_names)    # 16 : 3.

  def logits(split, weighted):
    with c.unlocked():
      c.class_weighted = weighted
    model = classifier.fit(c, split.images, split.labels, split.class_names,
                           seed=0)
    return model.logits_and_features(balanced.images)[0]

  # Equal classes: every weight is 1, the same training.
  np.testing.assert_allclose(logits(balanced, True), logits(balanced, False),
                             rtol=1e-4, atol=1e-5)
  assert np.abs(logits(skewed, True) - logits(skewed, False)).max() > 1e-2


def test_augmentation_strength_scales_the_ranges():
  images = np.full((64, 32, 32, 1), -1.0, np.float32)
  images[:, 8:24, 6:20] = 0.5
  key = jax.random.key(3)
  def change(strength):
    out = np.asarray(classifier._augment_classic(images, key, strength))
    # Undo the flips (same key: same flips whatever the strength).
    flipped = np.asarray(classifier._augment_classic(images, key, 1e-6))
    return np.abs(out - flipped).mean()
  assert change(1e-6) == 0
  assert 0 < change(0.5) < change(1.0) < change(2.0)
  # Strength 1 is the default.
  np.testing.assert_array_equal(
      classifier._augment_classic(images, key),
      classifier._augment_classic(images, key, 1.0))
  config = classifier_alzheimers.get_config().classifier
  config.augment_strength, config.num_steps = 0.0, 1
  with pytest.raises(UserError, match="augment_strength must be > 0"):
    classifier.fit(config, images.astype(np.uint8), np.zeros(64, np.int32),
                   ["a"], seed=0, augment=True)


def test_fits_of_one_configuration_share_their_programs():
  split = helpers.synthetic_split(n=32, num_classes=2)
  config = _config().classifier
  config.num_steps = 3
  classifier._training_programs.cache_clear()
  fresh = classifier.fit(config, split.images, split.labels, split.class_names,
                         seed=0)
  again = classifier.fit(config, split.images, split.labels, split.class_names,
                         seed=0)
  assert classifier._training_programs.cache_info().hits == 1
  # The shared program trains the same network as a fresh one.
  for a, b in zip(helpers.tree_leaves_np(fresh.variables),
                  helpers.tree_leaves_np(again.variables)):
    np.testing.assert_array_equal(a, b)
  first = fresh
  other = classifier.fit(config, split.images, split.labels, split.class_names,
                         seed=1)
  assert not all(np.array_equal(a, b) for a, b in zip(
      helpers.tree_leaves_np(first.variables),
      helpers.tree_leaves_np(other.variables)))
