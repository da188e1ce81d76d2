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
from typing import Callable

import ml_collections
import numpy as np
from absl import logging

from gan import classifier
from gan import fit_cache
from gan import input_pipeline
from gan import significance
from gan import synthetic_sources
from gan.errors import UserError


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


# Arms that use real data only: "best classic" is the best of these on
# validation, the baseline every GAN arm is compared with.
CLASSIC_ARMS = ("real", "real+classic", "real+balanced", "real+weighted")
# An arm whose synthetic:real ratio is chosen on validation among
# config.validation.synthetic_ratios.
RATIO_ON_VALIDATION = "real+synthetic@val"
METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def _unknown_arm(arm: str) -> UserError:
  return UserError(f"unknown arm {arm!r}; use real, real+classic, "
                   f"real+balanced, real+weighted, real+synthetic, "
                   f"real+synthetic@R, real+synthetic@val or synthetic")


def _check_arm(arm: str) -> None:
  if arm in CLASSIC_ARMS or arm in ("real+synthetic", "synthetic",
                                    RATIO_ON_VALIDATION):
    return
  if arm.startswith("real+synthetic@"):
    try:
      if float(arm.split("@", 1)[1]) > 0:
        return
    except ValueError:
      pass
  raise _unknown_arm(arm)


def arm_data(arm: str, train: input_pipeline.Split, source: synthetic_sources.SyntheticSource | None,
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
    raise _unknown_arm(arm)
  if not sum(need.values()):  # Already balanced: nothing to add.
    return train.images, train.labels, False
  images, labels = source.sample(need, seed)
  return (np.concatenate([train.images, images]),
          np.concatenate([train.labels, labels]), False)


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


def _classifier_candidates(config, validation) -> list[dict]:
  """Every combination of validation.classifier_grid ([{}] if none)."""
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


def _arm_variants(arm: str, validation) -> list[str]:
  """The concrete arms an arm chooses among on validation."""
  if arm != RATIO_ON_VALIDATION:
    return [arm]
  ratios = validation.get("synthetic_ratios", ()) if validation else ()
  if not ratios:
    raise UserError(f"arm {arm!r} chooses its ratio on validation; set "
                    f"--config.validation.synthetic_ratios='(0.25, 0.5, 1.0)' "
                    f"and a validation.fraction > 0")
  return [f"real+synthetic@{float(r):g}" for r in ratios]


def _arm_candidates(arm: str, validation, grid: list[dict],
                    sources: Sources) -> list[dict]:
  """Every way `arm` may train, in order: {"arm": concrete arm, "generator":
  source name (arms that draw synthetic images), classifier fields}. The
  protocol chooses among them on validation; without it there is one."""
  _check_arm(arm)
  variants = _arm_variants(arm, validation)
  if arm in CLASSIC_ARMS:
    generators = [None]
  elif not sources:
    raise UserError(f"arm {arm!r} needs a generator; pass --generator_workdir")
  else:
    generators = list(sources)
  fields = grid
  strengths = validation.get("classic_strengths", ()) if validation else ()
  if arm == "real+classic" and strengths:
    fields = [{**c, "augment_strength": float(s)} for c in grid for s in strengths]
  return [{"arm": variant, **({"generator": g} if g is not None else {}), **f}
          for variant in variants for g in generators for f in fields]


def _candidate_config(candidate, config) -> ml_collections.ConfigDict:
  """The classifier config of one candidate: its arm's, with its fields."""
  cfg = arm_classifier_config(candidate["arm"], config.classifier)
  with cfg.unlocked():
    cfg.update({k: v for k, v in candidate.items()
                if k not in ("arm", "generator")})
  return cfg


def _fit(candidate, config, split, sources, seed, cache):
  cache.check_time()  # Between fits: everything finished is stored.
  arm = candidate["arm"]
  images, labels, augment = arm_data(arm, split, sources.get(
      candidate.get("generator")), seed)
  model = classifier.fit(_candidate_config(candidate, config), images, labels,
                         split.class_names, seed=seed, augment=augment)
  return model, int(len(labels))


def _select(arm, candidates, config, validation, fit_split, val_split, sources,
            progress, cache, fingerprint):
  """Chooses one of `arm`'s candidates on validation.

  Every candidate trains on the fitting part with the first seed and is
  scored on the validation part; the first best wins ties. Returns the
  choice, its record and the winning model (the final run of the first seed,
  which would train exactly the same network). Never sees the test split.
  """
  if val_split is None:
    return candidates[0], None, None
  seed, tried, best = config.seeds[0], [], None
  for candidate in candidates:
    key = cache.key(phase="validation", candidate=candidate, seed=seed,
                    metric=validation.metric, **fingerprint)
    stored, model = cache.get(key), None
    if stored is not None:
      score, n = stored["score"], stored["train_examples"]
    else:
      model, n = _fit(candidate, config, fit_split, sources, seed, cache)
      score = model.evaluate(val_split.images, val_split.labels)[
          validation.metric]
      cache.put(key, {"candidate": candidate, "score": score,
                      "train_examples": n}, classifier.to_bytes(model))
    tried.append({**candidate, validation.metric: score, "train_examples": n})
    shown = ", ".join(f"{k}={v}" for k, v in candidate.items())
    progress(f"{arm}: validation {validation.metric} {score:.4f} for {shown}"
             + (" (stored)" if stored is not None else ""))
    if best is None or score > best[0]:
      best = (score, candidate, model, n, key)
  score, choice, model, n, key = best
  stored_model = cache.model_bytes(key) if model is None else None
  if stored_model is not None:
    model = classifier.from_bytes(_candidate_config(choice, config),
                                  fit_split.class_names,
                                  fit_split.images.shape[1:], stored_model)
  record = {"chosen": choice, "validation_" + validation.metric: score,
            "selection_seed": seed, "candidates": tried}
  return choice, record, (model, n) if model is not None else None


Sources = dict[str, synthetic_sources.SyntheticSource]


def _as_sources(source) -> Sources:
  """run's `source` as {name: source}; one source is named by its `name`
  (GeneratorSource: workdir@step), else "generator"."""
  if source is None:
    return {}
  if isinstance(source, dict):
    return dict(source)
  return {getattr(source, "name", "generator"): source}


def validation_parts(train: input_pipeline.Split, validation
                     ) -> tuple[input_pipeline.Split, input_pipeline.Split]:
  """(fitting part, validation part) of the training split: stratified by
  class, `validation.seed` fixed, whole subjects when they are known."""
  held = input_pipeline.stratified_holdout(train.labels, validation.fraction,
                                           validation.seed, train.groups)
  return train.subset(~held), train.subset(held)


def run(config: ml_collections.ConfigDict, train: input_pipeline.Split,
        test: input_pipeline.Split,
        source: synthetic_sources.SyntheticSource | Sources | None,
        progress: Callable[[str], None] = logging.info,
        cache: fit_cache.FitCache | None = None) -> dict:
  """Trains every arm for every seed; returns per-run and summary metrics.

  source: one synthetic source, or {name: source} to choose among on
  validation (generators, checkpoints, filter thresholds).

  With `config.validation.fraction` > 0 (the protocol of
  configs/augment_benchmark_alzheimers.py): a stratified validation part
  (fixed `validation.seed`) is carved from the training split; every arm's
  choices (classifier fields in `validation.classifier_grid`, the strength
  of real+classic among `validation.classic_strengths`, the ratio of
  `real+synthetic@val`, the source of every arm that draws synthetic
  images) are made on it; then every arm trains with its choice on the rest
  of the training split, once per seed, and only those final networks meet
  the test split, once each. Without it, every arm trains on the whole
  training split with the config as it is.

  cache: where finished fits are stored and read back (gan.fit_cache), so
  that a stopped run continues; raises fit_cache.OutOfTime at its budget.
  """
  cache = cache or fit_cache.FitCache(None)
  validation = _validation_config(config)
  sources = _as_sources(source)
  if validation is None and len(sources) > 1:
    raise UserError(f"{len(sources)} generators to choose among need the "
                    f"validation protocol; set --config.validation.fraction=0.15 "
                    f"or pass one --generator_workdir")
  grid = _classifier_candidates(config, validation)
  candidates = {arm: _arm_candidates(arm, validation, grid, sources)
                for arm in config.arms}
  if validation is not None:
    fit_split, val_split = validation_parts(train, validation)
    by_subject = ", by subject" if train.groups is not None else ""
    progress(f"validation: {len(val_split)} of {len(train)} training images "
             f"held out (stratified{by_subject}, seed {validation.seed})")
  else:
    fit_split, val_split = train, None
  # What decides a fit's result besides its candidate and seed.
  fingerprint = {
      "classifier": config.classifier.to_dict(), "data": config.data.to_dict(),
      "validation": (None if validation is None else
                     [validation.fraction, validation.seed]),
      "train_labels": train.labels, "train_images": len(train)}
  # Every choice first, so that nothing measured on test can inform one.
  choices, selection, first_models = {}, {}, {}
  for arm in config.arms:
    choices[arm], record, first_models[arm] = _select(
        arm, candidates[arm], config, validation, fit_split, val_split,
        sources, progress, cache, fingerprint)
    if record is not None:
      selection[arm] = record
  runs = collections.defaultdict(list)
  for arm in config.arms:
    for seed in config.seeds:
      key = cache.key(phase="test", candidate=choices[arm], seed=seed,
                      test_labels=test.labels, test_images=len(test),
                      **fingerprint)
      stored = cache.get(key)
      if stored is not None:
        metrics = stored["metrics"]
      else:
        if seed == config.seeds[0] and first_models[arm] is not None:
          model, n = first_models[arm]
        else:
          model, n = _fit(choices[arm], config, fit_split, sources, seed,
                          cache)
        metrics = model.evaluate(test.images, test.labels)
        metrics["train_examples"] = n
        cache.put(key, {"candidate": choices[arm], "seed": seed,
                        "metrics": metrics})
      runs[arm].append(metrics)
      progress(f"{arm} seed {seed}: balanced accuracy "
               f"{metrics['balanced_accuracy']:.4f}, accuracy "
               f"{metrics['accuracy']:.4f}"
               + (" (stored)" if stored is not None else ""))
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
        "by_subject": train.groups is not None,
        "metric": validation.metric,
        "chosen_by": "validation " + validation.metric,
        "test": "evaluated once per final arm and seed, after every choice",
    }
    result["selection"] = selection
    result["comparison"] = compare_to_best_classic(result, validation.metric)
  return result


def metric_value(entry: dict, name: str):
  """entry[name], where "recall/<class>" names entry["recall"][<class>]; for
  a run's metrics and for a summary entry alike."""
  if name.startswith("recall/"):
    return entry["recall"][name.split("/", 1)[1]]
  return entry[name]


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
    return [metric_value(r, name) for r in runs[arm]]
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
