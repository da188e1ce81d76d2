"""Does synthetic data help a downstream classifier? Arms, seeds, error bars.

The library behind
  python -m gan.augment_benchmark --config=configs/augment_benchmark_alzheimers.py \
    --generator_workdir=workdirs/dcgan_alzheimers --output=workdirs/augment_bench

Trains the same classifier (`gan.classifier`), with the same budget and seeds,
under each arm, and tests it on the real test split:
  real                real training images only
  real+classic        real, with classic augmentation (flip, affine, intensity)
  real+balanced       real, every class drawn equally often (class-balanced
                      sampling)
  real+weighted       real, loss weighted by n / (K n_c) per class
                      (class-weighted loss)
  real+synthetic      real + synthetic topping every class up to the largest
  real+synthetic@R    real + R x (number of real images) synthetic, equal per class
  real+synthetic@val  real+synthetic@R with R chosen on validation
  synthetic           synthetic only (as many as real, equal per class)
With a validation protocol (`config.validation`, see `run`), every choice is
made on a validation part of the training split and the test split is read
once per final arm and seed; each GAN arm is compared with the best classic
arm (chosen on validation) by a paired-by-seed t interval.
Reports accuracy, balanced accuracy, macro-F1 and per-class recall as mean
+- std over seeds; gan/downstream_report.py writes results.json, results.md,
results.png and confusion.png.
"""
from __future__ import annotations

import collections
from typing import Callable, Protocol

import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

from gan import classifier
from gan import pixels
from gan import input_pipeline
from gan import sampling
from gan.errors import UserError
from gan import significance


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


def _real_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
  return np.bincount(labels, minlength=num_classes)


# The classic remedies for class imbalance: real data, trained differently.
# arm -> classifier config fields it sets.
CLASSIFIER_OPTIONS = {
    "real+balanced": {"class_balanced": True, "class_weighted": False},
    "real+weighted": {"class_balanced": False, "class_weighted": True},
}


def arm_classifier_config(arm: str, base: ml_collections.ConfigDict
                          ) -> ml_collections.ConfigDict:
  """The classifier config of one arm: `base` with the arm's options set."""
  config = base.copy_and_resolve_references()
  with config.unlocked():
    config.update(CLASSIFIER_OPTIONS.get(arm, {}))
  return config


def arm_data(arm: str, train: input_pipeline.Split, source: SyntheticSource | None,
             seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
  """(images, labels, classic_augmentation) for one arm."""
  k = train.num_classes
  counts = _real_counts(train.labels, k)
  if arm == "real" or arm in CLASSIFIER_OPTIONS:
    return train.images, train.labels, False
  if arm == "real+classic":
    return train.images, train.labels, True
  if source is None:
    raise UserError(f"arm {arm!r} needs a generator; pass --generator_workdir")
  if arm == "real+synthetic":
    need = {c: int(counts.max() - counts[c]) for c in range(k)}
  elif arm.startswith("real+synthetic@"):
    ratio = float(arm.split("@", 1)[1])
    per_class = int(round(ratio * len(train) / k))
    need = {c: per_class for c in range(k)}
  elif arm == "synthetic":
    need = {c: len(train) // k for c in range(k)}
    images, labels = source.sample(need, seed)
    return images, labels, False
  else:
    raise UserError(f"unknown arm {arm!r}; use real, real+classic, "
                    f"real+balanced, real+weighted, real+synthetic, "
                    f"real+synthetic@R or synthetic")
  if not sum(need.values()):  # Already balanced: nothing to add.
    return train.images, train.labels, False
  images, labels = source.sample(need, seed)
  return (np.concatenate([train.images, images]),
          np.concatenate([train.labels, labels]), False)


# Arms that use real data only: "best classic" is the best of these on
# validation, the baseline every GAN arm is compared with.
CLASSIC_ARMS = ("real", "real+classic", "real+balanced", "real+weighted")
# An arm whose synthetic:real ratio is chosen on validation among
# config.validation.synthetic_ratios.
RATIO_ON_VALIDATION = "real+synthetic@val"
METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def _validation_config(config):
  """config.validation, or None when the config has none (or fraction 0)."""
  validation = config.get("validation")
  if validation is None or not validation.fraction:
    # The protocol is off: no choices, the classifier config as it is.
    return None
  if not 0.0 < validation.fraction < 1.0:
    raise UserError(f"validation.fraction must be in (0, 1); got "
                    f"{validation.fraction}")
  if validation.metric not in METRICS:
    raise UserError(f"validation.metric {validation.metric!r} is not one of "
                    f"{METRICS}")
  return validation


def _classifier_candidates(config) -> list[dict]:
  """Every combination of config.validation.classifier_grid ([{}] if none)."""
  validation = _validation_config(config)
  grid = validation.get("classifier_grid") if validation else None
  grid = grid.to_dict() if grid else {}
  for field, values in grid.items():
    if field not in config.classifier:
      raise UserError(f"validation.classifier_grid.{field} is not a "
                      f"classifier field; use one of {sorted(config.classifier)}")
    if not isinstance(values, (tuple, list)) or not values:
      raise UserError(f"validation.classifier_grid.{field} must be a non-empty "
                      f"tuple of candidates; got {values!r}")
  candidates = [{}]
  for field in sorted(grid):
    candidates = [{**c, field: v} for c in candidates for v in grid[field]]
  return candidates


def _arm_variants(arm: str, config) -> list[str]:
  """The concrete arms an arm chooses among on validation."""
  if arm != RATIO_ON_VALIDATION:
    return [arm]
  validation = _validation_config(config)
  ratios = validation.get("synthetic_ratios", ()) if validation else ()
  if not ratios:
    raise UserError(f"arm {arm!r} chooses its ratio on validation; set "
                    f"--config.validation.synthetic_ratios='(0.25, 0.5, 1.0)' "
                    f"and a validation.fraction > 0")
  return [f"real+synthetic@{float(r):g}" for r in ratios]


def _fit(arm, candidate, config, split, source, seed):
  cfg = arm_classifier_config(arm, config.classifier)
  with cfg.unlocked():
    cfg.update(candidate)
  images, labels, augment = arm_data(arm, split, source, seed)
  model = classifier.fit(cfg, images, labels, split.class_names, seed=seed,
                         augment=augment)
  return model, int(len(labels))


def _select(arm, config, fit_split, val_split, source, progress):
  """Chooses (concrete arm, classifier fields) for `arm` on validation.

  Every candidate trains on the fitting part with the first seed and is
  scored on the validation part; the first best wins ties. Returns the
  choice, its record and the winning model (the final run of the first seed,
  which would train exactly the same network). Never sees the test split.
  """
  variants, candidates = _arm_variants(arm, config), _classifier_candidates(config)
  if val_split is None:
    return (variants[0], candidates[0]), None, None
  validation, seed = config.validation, config.seeds[0]
  tried, best = [], None
  for variant in variants:
    for candidate in candidates:
      model, n = _fit(variant, candidate, config, fit_split, source, seed)
      score = model.evaluate(val_split.images, val_split.labels)[validation.metric]
      tried.append({"arm": variant, **candidate, validation.metric: score,
                    "train_examples": n})
      progress(f"{arm}: validation {validation.metric} {score:.4f} for "
               f"{variant} {candidate or ''}")
      if best is None or score > best[0]:
        best = (score, (variant, candidate), (model, n))
  score, choice, model = best
  record = {"chosen": {"arm": choice[0], **choice[1]},
            "validation_" + validation.metric: score,
            "selection_seed": seed, "candidates": tried}
  return choice, record, model


def run(config: ml_collections.ConfigDict, train: input_pipeline.Split,
        test: input_pipeline.Split, source: SyntheticSource | None,
        progress: Callable[[str], None] = logging.info) -> dict:
  """Trains every arm for every seed; returns per-run and summary metrics.

  With `config.validation.fraction` > 0 (the protocol of
  configs/augment_benchmark_alzheimers.py): a stratified validation part
  (fixed `validation.seed`) is carved from the training split; every arm's
  choices (classifier fields in `validation.classifier_grid`, the ratio of
  `real+synthetic@val`) are made on it; then every arm trains with its
  choice on the rest of the training split, once per seed, and only those
  final networks meet the test split, once each. Without it, every arm
  trains on the whole training split with the config as it is.
  """
  validation = _validation_config(config)
  if validation is not None:
    held = input_pipeline.stratified_holdout(train.labels, validation.fraction,
                                             validation.seed)
    fit_split, val_split = train.subset(~held), train.subset(held)
    progress(f"validation: {len(val_split)} of {len(train)} training images "
             f"held out (stratified, seed {validation.seed})")
  else:
    fit_split, val_split = train, None
  # Every choice first, so that nothing measured on test can inform one.
  choices, selection, first_models = {}, {}, {}
  for arm in config.arms:
    choices[arm], record, first_models[arm] = _select(
        arm, config, fit_split, val_split, source, progress)
    if record is not None:
      selection[arm] = record
  runs = collections.defaultdict(list)
  for arm in config.arms:
    variant, candidate = choices[arm]
    for seed in config.seeds:
      if seed == config.seeds[0] and first_models[arm] is not None:
        model, n = first_models[arm]
      else:
        model, n = _fit(variant, candidate, config, fit_split, source, seed)
      metrics = model.evaluate(test.images, test.labels)
      metrics["train_examples"] = n
      runs[arm].append(metrics)
      progress(f"{arm} seed {seed}: balanced accuracy "
               f"{metrics['balanced_accuracy']:.4f}, accuracy "
               f"{metrics['accuracy']:.4f}")
  result = {"runs": dict(runs), "summary": summarize(runs, train.class_names),
            "class_names": train.class_names, "seeds": list(config.seeds)}
  if validation is not None:
    result["protocol"] = {
        "validation_fraction": validation.fraction,
        "validation_seed": validation.seed,
        "validation_images": len(val_split),
        "validation_counts": np.bincount(val_split.labels,
                                         minlength=train.num_classes).tolist(),
        "fitting_images": len(fit_split),
        "chosen_by": "validation " + validation.metric,
        "test": "evaluated once per final arm and seed, after every choice",
    }
    result["selection"] = selection
    result["comparison"] = compare_to_best_classic(result, validation.metric)
  return result


def compare_to_best_classic(result: dict, metric: str) -> dict | None:
  """Each GAN arm minus the classic arm that was best on validation, paired
  by seed, on the test metrics (`metric` and every class's recall)."""
  selection = result["selection"]
  classic = [a for a in CLASSIC_ARMS if a in selection]
  gan_arms = [a for a in selection if a not in CLASSIC_ARMS]
  if not classic or not gan_arms:
    return None
  key = "validation_" + metric
  best = max(classic, key=lambda a: selection[a][key])  # First best on ties.
  runs = result["runs"]
  def values(arm, name):
    if name.startswith("recall/"):
      return [r["recall"][name.split("/", 1)[1]] for r in runs[arm]]
    return [r[name] for r in runs[arm]]
  names = [metric] + [f"recall/{c}" for c in result["class_names"]]
  return {"best_classic": best,
          "best_classic_chosen_by": key,
          "paired": {arm: {name: significance.paired_difference(
              values(arm, name), values(best, name)) for name in names}
                     for arm in gan_arms}}


def summarize(runs: dict, class_names: list[str]) -> dict:
  """mean and std (ddof=1 over seeds; 0 for one seed) of every metric."""
  summary = {}
  for arm, results in runs.items():
    def stats(values):
      values = np.asarray(values, np.float64)
      return {"mean": float(values.mean()),
              "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    entry = {m: stats([r[m] for r in results]) for m in METRICS}
    entry["recall"] = {c: stats([r["recall"][c] for r in results])
                       for c in class_names}
    # Summed over seeds: every test image once per seed.
    entry["confusion"] = np.sum([r["confusion"] for r in results], 0).tolist()
    summary[arm] = entry
  return summary
