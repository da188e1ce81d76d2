"""Labelled synthetic images on demand, for the augmentation benchmark and
the generator-quality benchmark: a trained generator, or a generator whose
images a classifier filters by confidence."""
from __future__ import annotations

import collections
from typing import Protocol

import numpy as np
import tensorflow as tf

from gan import classifier
from gan import pixels
from gan import sampling
from gan.errors import UserError


class SyntheticSource(Protocol):
  """Labelled synthetic images on demand."""

  def sample(self, counts: dict[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """counts: class index -> n. Returns ([N, R, R, C] uint8, [N] int32)."""


class GeneratorSource:
  """Samples a trained class-conditional generator (EMA weights)."""

  def __init__(self, workdir: str, class_names: list[str], resolution: int,
               step: int | None = None,
               generator: sampling.Generator | None = None):
    """generator: that workdir's generator when the caller loaded it already."""
    self.generator = generator or sampling.load_generator(workdir, step)
    if not self.generator.num_classes:
      raise UserError(f"the generator in {workdir} is not class-conditional; "
                      f"train it with --config.data.conditional=True")
    if self.generator.class_names != list(class_names):
      raise UserError(f"generator classes {self.generator.class_names} differ "
                      f"from the data set's {list(class_names)}")
    self.resolution = resolution
    # What it is, for results and for gan.fit_cache's keys.
    self.name = f"{workdir}@{self.generator.step}"

  def sample(self, counts, seed):
    images, labels = [], []
    for class_index, n in sorted(counts.items()):
      if n <= 0:
        continue
      for batch in self.generator.sample(
          n, seed=sampling.class_seed(seed, class_index), labels=np.full(n, class_index)):
        if batch.shape[1] != self.resolution:
          batch = tf.image.resize(batch, [self.resolution] * 2, antialias=True).numpy()
        images.append(pixels.to_uint8(batch))
      labels.append(np.full(n, class_index, np.int32))
    return np.concatenate(images), np.concatenate(labels)


class ConfidenceFilter:
  """Keeps the synthetic images a classifier assigns to their intended class.

  Wraps a SyntheticSource: draws images in rounds and keeps those whose
  softmax probability of the requested class, under `judge` (a classifier
  trained on the real training split, e.g. the `encoder:` network), is at
  least `min_confidence`, until each class has its count. Round r of a call
  with `seed` draws with seed `seed * 100 + r`, so results stay a pure
  function of the seed. `acceptance` records kept/drawn per class.
  """

  MAX_ROUNDS = 100
  # Give up early (after MIN_DRAWS images) when fewer than 1 in
  # MAX_OVERSAMPLING images of a class pass: the filter would run for hours.
  MIN_DRAWS = 512
  MAX_OVERSAMPLING = 50

  def __init__(self, source: SyntheticSource, judge: classifier.TrainedClassifier,
               min_confidence: float):
    if not 0.0 <= min_confidence < 1.0:
      raise UserError(f"filter min_confidence must be in [0, 1); got "
                      f"{min_confidence}")
    self.source, self.judge = source, judge
    self.min_confidence = min_confidence
    self.name = (f"{getattr(source, 'name', 'generator')} "
                 f"min_confidence={min_confidence:g}")
    self.acceptance: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])

  def _keep(self, images, class_index):
    logits, _ = self.judge.logits_and_features(images)
    logits = logits - logits.max(-1, keepdims=True)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return probs[:, class_index] >= self.min_confidence

  def sample(self, counts, seed):
    images, labels = [], []
    for class_index, n in sorted(counts.items()):
      kept, have = [], 0
      for r in range(self.MAX_ROUNDS):
        if have >= n:
          break
        # Draw at least what is missing, plus slack for rejections.
        draw = max(2 * (n - have), 32)
        batch, _ = self.source.sample({class_index: draw}, seed * 100 + r)
        keep = self._keep(batch, class_index)
        kept.append(batch[keep])
        have += int(keep.sum())
        self.acceptance[class_index][0] += int(keep.sum())
        self.acceptance[class_index][1] += draw
        kept_so_far, drawn = self.acceptance[class_index]
        if drawn >= self.MIN_DRAWS and kept_so_far * self.MAX_OVERSAMPLING < drawn:
          raise UserError(
              f"only {kept_so_far} of {drawn} synthetic images of class "
              f"{class_index} reach min_confidence={self.min_confidence} "
              f"under the filter classifier: the generator does not produce "
              f"this class as the classifier sees it; train the generator "
              f"longer or lower --config.filter.min_confidence")
      if have < n:
        raise UserError(
            f"only {have} of {n} synthetic images of class {class_index} "
            f"passed min_confidence={self.min_confidence} after "
            f"{self.MAX_ROUNDS} rounds; lower --config.filter.min_confidence")
      images.append(np.concatenate(kept)[:n])
      labels.append(np.full(n, class_index, np.int32))
    return np.concatenate(images), np.concatenate(labels)

  def acceptance_rates(self, class_names) -> dict[str, float]:
    return {class_names[c]: kept / drawn
            for c, (kept, drawn) in sorted(self.acceptance.items())}


def parse_generator_specs(entries, default_step: int | None
                          ) -> list[tuple[str, int | None]]:
  """[(workdir, step or None)] from --generator_workdir's DIR / DIR@STEP
  entries; default_step for a DIR without one."""
  specs = []
  for entry in entries:
    workdir, _, step = entry.partition("@")
    if step and not step.isdigit():
      raise UserError(f"--generator_workdir entry {entry!r}: the part "
                      f"after @ must be a checkpoint step, e.g. "
                      f"{workdir}@5000")
    specs.append((workdir, int(step) if step else default_step))
  return specs


def benchmark_sources(config, class_names, specs) -> tuple[dict, dict]:
  """({name: synthetic source}, {name: what it is}): one per generator
  checkpoint of `specs` ([(workdir, step or None)]) and filter threshold
  (validation.filter_confidences, else filter.min_confidence)."""
  sources, describe = {}, {}
  judge = (classifier.load(config.filter.classifier)
           if config.filter.classifier else None)
  confidences = ()
  if judge is not None:
    validation = config.get("validation")
    confidences = tuple((validation.get("filter_confidences", ()) if validation
                         else ()) or (config.filter.min_confidence,))
  for workdir, step in specs:
    source = GeneratorSource(workdir, class_names, config.data.resolution,
                             step)
    gen, name = source.generator, source.name
    if any(d["workdir"] == workdir and d["step"] == gen.step
           for d in describe.values()):
      raise UserError(f"--generator_workdir names {name} twice; drop one")
    info = {"workdir": workdir, "step": gen.step,
            "family": gen.config.model.name}
    if judge is None:
      sources[name], describe[name] = source, info
      continue
    for confidence in confidences:
      filtered = ConfidenceFilter(source, judge, confidence)
      sources[filtered.name] = filtered
      describe[filtered.name] = {
          **info, "filter_classifier": config.filter.classifier,
          "min_confidence": confidence}
  return sources, describe
