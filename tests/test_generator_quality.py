"""benchmarks/generator_quality.py on stand-in generators with known answers:
a faithful one scores near the real data, a class-swapping one fails label
agreement and per-class KID, a copier fails the memorisation audit, and a
one-class (transfer) generator is compared with that class only."""
import importlib.util
import os
import sys

import numpy as np
import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "benchmarks", "generator_quality.py")
_spec = importlib.util.spec_from_file_location("generator_quality", _PATH)
quality = importlib.util.module_from_spec(_spec)
# Its dataclass looks its module up by name.
sys.modules[_spec.name] = quality
_spec.loader.exec_module(quality)

CLASSES = ["dark", "dim", "bright"]
CENTRES = np.array([-0.6, 0.0, 0.6])   # Each class's mean brightness in [-1, 1].


def _class_images(rng, c, n):
  x = CENTRES[c] + 0.15 * rng.standard_normal((n, 8, 8, 1))
  return np.clip(x, -1, 1).astype(np.float32)


def _to_uint8(x):
  return np.clip(np.round((x + 1) * 127.5), 0, 255).astype(np.uint8)


def _features(images):
  """uint8 [N, 8, 8, 1] -> 4x4 average pools [N, 16]: a stand-in network."""
  x = images.astype(np.float64) / 255
  return x.reshape(len(x), 4, 2, 4, 2).mean(axis=(2, 4)).reshape(len(x), 16)


def _classify(images):
  brightness = images.astype(np.float64).mean(axis=(1, 2, 3)) / 127.5 - 1
  return -np.abs(brightness[:, None] - CENTRES[None, :])


class _Generator:
  """A `synthetic_sources.SyntheticSource` that draws class `mapping[c]` when asked
  for c (one stream per class); `copies` returns real images."""

  def __init__(self, drawn_labels=(0, 1, 2), mapping=(0, 1, 2), copies=None):
    self.drawn_labels = list(drawn_labels)
    self.mapping = mapping
    self.copies = copies

  def sample(self, counts, seed):
    images, labels = [], []
    for asked, num in sorted(counts.items()):
      rng = np.random.default_rng(1000 * seed + asked)
      c = self.mapping[asked]
      if self.copies is not None:
        pool = self.copies[c]
        images.append(_to_uint8(pool[rng.integers(0, len(pool), num)]))
      else:
        images.append(_to_uint8(_class_images(rng, c, num)))
      labels.append(np.full(num, asked, np.int32))
    return np.concatenate(images), np.concatenate(labels)


@pytest.fixture(scope="module")
def reference_data():
  rng = np.random.default_rng(0)
  counts = [300, 40, 400]
  images = {c: _class_images(rng, c, n) for c, n in enumerate(counts)}
  labels = np.repeat(np.arange(3), counts)
  real = np.concatenate([_to_uint8(images[c]) for c in range(3)])
  reference = quality.make_reference(real, labels, CLASSES,
                                     {"pool": _features})
  training = _features(real)
  return reference, images, training


def _score(reference, training, generator, min_per_class=200):
  counts = quality.sample_counts(reference.counts, generator.drawn_labels,
                                 min_per_class)
  images = quality.draw_by_class(generator, counts, seed=3)
  return quality.score_samples(
      reference, images, {c: n for c, (n, _) in counts.items()},
      {"pool": _features}, _classify, memorization_feature="pool",
      training_features=training)


def test_sample_counts_match_the_reference_and_top_up_small_classes():
  counts = quality.sample_counts(np.array([717, 52, 2560, 1792]),
                                 [0, 1, 2, 3], min_per_class=500)
  assert counts == {0: (717, 717), 1: (52, 500), 2: (2560, 2560),
                    3: (1792, 1792)}
  assert quality.sample_counts(np.array([717, 52, 2560, 1792]), [1],
                               500) == {1: (52, 500)}
  with pytest.raises(ValueError, match="no reference images"):
    quality.sample_counts(np.array([5, 0]), [1], 10)


def test_faithful_generator_scores_like_real_data(reference_data):
  reference, _, training = reference_data
  e = _score(reference, training, _Generator())
  assert e["classes"] == CLASSES
  assert e["overall"]["pool"]["num_fake"] == 740
  assert e["overall"]["pool"]["num_real"] == 740
  # Class proportions match, so the mixture matches (a class-swapping
  # generator: 0.29).
  assert abs(e["overall"]["pool"]["kid"]["mean"]) < 0.01
  assert e["overall"]["pool"]["prdc"]["recall"] > 0.8
  assert e["per_class"]["dim"]["pool"]["num_fake"] == 200   # Topped up.
  assert e["per_class"]["dim"]["pool"]["num_real"] == 40
  assert e["mean_label_agreement"] > 0.95
  # Fresh draws sit about as far from the training images as those do from
  # each other: no copies.
  assert e["memorization"]["fraction_below_0.5"] < 0.05
  assert e["memorization"]["median_ratio"] > 0.7


def test_class_swapping_generator_fails_agreement_and_per_class_kid(
    reference_data):
  reference, _, training = reference_data
  good = _score(reference, training, _Generator())
  swapped = _score(reference, training, _Generator(mapping=(1, 2, 0)))
  assert swapped["mean_label_agreement"] < 0.05
  assert swapped["overall"]["pool"]["kid"]["mean"] > 0.1
  for name in CLASSES:
    assert (swapped["per_class"][name]["pool"]["kid"]["mean"]
            > 100 * max(good["per_class"][name]["pool"]["kid"]["mean"], 1e-5))
    assert (swapped["per_class"][name]["pool"]["fid"]
            > 10 * good["per_class"][name]["pool"]["fid"])


def test_copier_fails_the_memorisation_audit(reference_data):
  reference, images, training = reference_data
  copies = {c: images[c] for c in range(3)}
  e = _score(reference, training, _Generator(copies=copies))
  assert e["memorization"]["min_ratio"] == 0.0
  assert e["memorization"]["fraction_below_0.5"] == 1.0


def test_one_class_generator_is_compared_with_its_class_only(reference_data):
  reference, _, training = reference_data
  e = _score(reference, training, _Generator(drawn_labels=[1]))
  assert e["classes"] == ["dim"]
  assert list(e["per_class"]) == ["dim"]
  assert e["overall"]["pool"]["num_real"] == 40
  assert e["overall"]["pool"]["num_fake"] == 40
  assert e["mean_label_agreement"] > 0.95
  e.update(step=10, model="stand-in", kimg=0.16)
  table = "\n".join(quality.markdown_tables({"w": e}, "pool"))
  assert "| w | dim | 200 / 40 |" in table
  assert "| w | stand-in | 10 | 0.2 | 1 |" in table
  assert "0.0% (pool) |" in table
