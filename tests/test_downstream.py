"""Augmentation benchmark on tiny synthetic data."""
import json
import re

import ml_collections
import numpy as np
import pytest
from scipy import stats

from gan import classifier
from gan import downstream
from gan import downstream_report
from gan import fit_cache
from gan import input_pipeline
from gan import synthetic_sources
from gan.errors import UserError
from tests import helpers
from tests.test_classifier import _config


class CopyOfReal:
  """A 'generator' that returns real training images of the asked classes."""

  def __init__(self, split):
    self.split = split

  def sample(self, counts, seed):
    rng = np.random.default_rng(seed)
    idx = np.concatenate([
        rng.choice(np.flatnonzero(self.split.labels == c), n)
        for c, n in sorted(counts.items()) if n > 0])
    return self.split.images[idx], self.split.labels[idx]


class WholeRealSet:
  """Returns the whole real training set, whatever is asked."""

  def __init__(self, split):
    self.split = split

  def sample(self, counts, seed):
    return self.split.images, self.split.labels


def _bench_config(arms, seeds=(0, 1)):
  config = _config()
  config.classifier.num_steps = 20
  config.arms, config.seeds = arms, seeds
  return config


def test_every_arm_runs_and_writes_results(tmp_path):
  train = helpers.synthetic_split(n=48, num_classes=3, seed=0)
  test = helpers.synthetic_split(n=30, num_classes=3, seed=1)
  config = _bench_config(("real", "real+classic", "real+synthetic",
                          "real+synthetic@0.5", "synthetic"))
  result = downstream.run(config, train, test, CopyOfReal(train))
  assert set(result["summary"]) == set(config.arms)
  for arm, runs in result["runs"].items():
    assert len(runs) == 2
    for r in runs:
      assert 0 <= r["balanced_accuracy"] <= 1 and r["num_examples"] == 30
  sizes = {arm: result["runs"][arm][0]["train_examples"] for arm in config.arms}
  assert sizes == {"real": 48, "real+classic": 48, "real+synthetic": 48,
                   "real+synthetic@0.5": 48 + 24, "synthetic": 48}
  s = result["summary"]["real"]["balanced_accuracy"]
  values = [r["balanced_accuracy"] for r in result["runs"]["real"]]
  assert s["mean"] == pytest.approx(np.mean(values))
  assert s["std"] == pytest.approx(np.std(values, ddof=1))
  downstream_report.write_results(result, str(tmp_path))
  assert json.loads((tmp_path / "results.json").read_text())["seeds"] == [0, 1]
  assert "| real+classic |" in (tmp_path / "results.md").read_text()
  assert (tmp_path / "results.png").stat().st_size > 1000
  assert (tmp_path / "confusion.png").stat().st_size > 1000
  confusion = np.asarray(result["summary"]["real"]["confusion"])
  assert confusion.sum() == 2 * 30   # Each test image once per seed.
  assert confusion.sum(1).tolist() == [20, 20, 20]
  assert np.trace(confusion) == pytest.approx(
      sum(r["accuracy"] * 30 for r in result["runs"]["real"]))


def test_real_plus_a_copy_of_real_is_real_duplicated():
  train = helpers.synthetic_split(n=32, num_classes=2, seed=0)
  test = helpers.synthetic_split(n=20, num_classes=2, seed=1)
  config = _bench_config(("real+synthetic@1.0",), seeds=(0,))
  result = downstream.run(config, train, test, WholeRealSet(train))
  doubled = classifier.fit(config.classifier,
                           np.concatenate([train.images, train.images]),
                           np.concatenate([train.labels, train.labels]),
                           train.class_names, seed=0)
  want = doubled.evaluate(test.images, test.labels)
  got = result["runs"]["real+synthetic@1.0"][0]
  assert got["balanced_accuracy"] == want["balanced_accuracy"]
  assert got["recall"] == want["recall"]


def test_unknown_arm_and_missing_generator():
  train = helpers.synthetic_split(n=8)
  with pytest.raises(UserError, match="needs a generator"):
    downstream.arm_data("real+synthetic", train, None, 0)
  with pytest.raises(UserError, match="unknown arm 'gan'"):
    downstream.arm_data("gan", train, CopyOfReal(train), 0)


class NoisySource:
  """Random images; pixel (0, 0) decides how a BrightnessJudge sees them."""

  def sample(self, counts, seed):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c, n in sorted(counts.items()):
      images.append(rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8))
      labels.append(np.full(n, c, np.int32))
    return np.concatenate(images), np.concatenate(labels)


class BrightnessJudge:
  """Two classes: class 1 with probability sigmoid((pixel - 128) / 16)."""

  def logits_and_features(self, images):
    x = (images[:, 0, 0, 0].astype(np.float64) - 128) / 16
    logits = np.stack([np.zeros_like(x), x], axis=-1)
    return logits, logits


def test_confidence_filter_keeps_only_confident_images_deterministically():
  source = synthetic_sources.ConfidenceFilter(NoisySource(), BrightnessJudge(), 0.9)
  images, labels = source.sample({0: 10, 1: 25}, seed=3)
  assert np.bincount(labels).tolist() == [10, 25]
  p1 = 1 / (1 + np.exp(-(images[:, 0, 0, 0].astype(np.float64) - 128) / 16))
  assert np.all(p1[labels == 1] >= 0.9) and np.all(1 - p1[labels == 0] >= 0.9)
  again, _ = synthetic_sources.ConfidenceFilter(
      NoisySource(), BrightnessJudge(), 0.9).sample({0: 10, 1: 25}, seed=3)
  np.testing.assert_array_equal(images, again)
  rates = source.acceptance_rates(["a", "b"])
  # P(pixel >= 128 + 16 ln 9 ~ 163.2) = 92/256 for each class.
  assert 0.2 < rates["a"] < 0.55 and 0.2 < rates["b"] < 0.55


def test_confidence_filter_errors():
  with pytest.raises(UserError, match="min_confidence must be in"):
    synthetic_sources.ConfidenceFilter(NoisySource(), BrightnessJudge(), 1.0)
  impossible = synthetic_sources.ConfidenceFilter(NoisySource(), BrightnessJudge(), 0.9999999)
  impossible.MAX_ROUNDS = 3
  with pytest.raises(UserError, match="lower --config.filter.min_confidence"):
    impossible.sample({1: 5}, seed=0)


def test_confidence_filter_gives_up_early_on_a_class_it_never_sees():
  class NeverClassOne(BrightnessJudge):
    def logits_and_features(self, images):
      logits = np.zeros((len(images), 2))
      logits[:, 0] = 10.0
      return logits, logits

  source = synthetic_sources.ConfidenceFilter(NoisySource(), NeverClassOne(), 0.5)
  with pytest.raises(UserError, match=r"only 0 of \d+ synthetic images of class 1"):
    source.sample({1: 300}, seed=0)
  assert source.acceptance[1][1] < 2000   # Stopped after a few rounds.


def test_classic_imbalance_arms_train_real_data_differently():
  labels = np.array([0] * 20 + [1] * 4 + [2] * 6, np.int32)
  full = helpers.synthetic_split(n=60, num_classes=3, seed=0)
  idx = np.concatenate([np.flatnonzero(full.labels == c)[:n]
                        for c, n in enumerate([20, 4, 6])])
  train = type(full)(full.images[idx], full.labels[idx], full.class_names)
  np.testing.assert_array_equal(np.sort(train.labels), labels)
  test = helpers.synthetic_split(n=30, num_classes=3, seed=1)
  config = _bench_config(("real+balanced", "real+weighted"), seeds=(0,))
  result = downstream.run(config, train, test, None)   # No generator needed.
  for arm, options in [("real+balanced", {"class_balanced": True}),
                       ("real+weighted", {"class_weighted": True})]:
    c = downstream.arm_classifier_config(arm, config.classifier)
    assert c.class_balanced == options.get("class_balanced", False)
    assert c.class_weighted == options.get("class_weighted", False)
    want = classifier.fit(c, train.images, train.labels, train.class_names,
                          seed=0).evaluate(test.images, test.labels)
    got = result["runs"][arm][0]
    assert got["train_examples"] == 30
    assert got["recall"] == want["recall"]
  # The base config is left as it was.
  assert not config.classifier.class_balanced
  assert "class_weighted" not in config.classifier or (
      not config.classifier.class_weighted)


def _protocol_config(arms, seeds=(0, 1), num_steps=(20,), ratios=(0.5,)):
  config = _bench_config(arms, seeds)
  with config.unlocked():
    config.validation = v = ml_collections.ConfigDict()
    v.fraction, v.seed, v.metric = 0.25, 7, "balanced_accuracy"
    v.classifier_grid = ml_collections.ConfigDict({"num_steps": num_steps})
    v.synthetic_ratios = ratios
  return config


def test_poisoned_test_split_changes_no_choice_and_is_read_last():
  train = helpers.synthetic_split(n=48, num_classes=3, seed=0)
  test = helpers.synthetic_split(n=30, num_classes=3, seed=1)
  rng = np.random.default_rng(0)
  poisoned = input_pipeline.Split(
      rng.integers(0, 256, test.images.shape, dtype=np.uint8),
      rng.permutation(test.labels), test.class_names)
  config = _protocol_config(("real", "real+synthetic@val"), seeds=(0, 1),
                            num_steps=(2, 20), ratios=(0.5, 1.0))
  log = []
  clean = downstream.run(config, train, test, CopyOfReal(train))
  dirty = downstream.run(config, train, poisoned, CopyOfReal(train),
                         progress=log.append)
  # Every choice and every validation score is the same under a poisoned
  # test split, so no test image or label reached a choice...
  assert clean["selection"] == dirty["selection"]
  assert clean["protocol"] == dirty["protocol"]
  # ...while the poison does reach the test metrics (it is not ignored).
  assert clean["runs"] != dirty["runs"]
  # The test split is read only after every choice was made.
  is_test = [bool(re.fullmatch(r"\S+ seed \d+: balanced accuracy .*", m))
             for m in log]
  first_test = is_test.index(True)
  assert all(is_test[first_test:]) and sum(is_test) == 4
  assert sum(m.startswith("real+synthetic@val: validation") for m in log) == 4
  # 12 of 48 held out (25% of each class); the networks train on 36.
  assert clean["protocol"]["validation_counts"] == [4, 4, 4]
  assert clean["runs"]["real"][0]["train_examples"] == 36


def test_selection_keeps_the_validation_best_and_records_it():
  train = helpers.synthetic_split(n=48, num_classes=3, seed=0)
  test = helpers.synthetic_split(n=30, num_classes=3, seed=1)
  config = _protocol_config(("real",), seeds=(0,), num_steps=(1, 30))
  result = downstream.run(config, train, test, None)
  record = result["selection"]["real"]
  scores = {c["num_steps"]: c["balanced_accuracy"] for c in record["candidates"]}
  assert record["chosen"] == {"arm": "real", "num_steps": max(scores, key=scores.get)}
  assert record["validation_balanced_accuracy"] == max(scores.values())
  # The recorded score is the chosen network's on the held-out part, and the
  # seed-0 test result is that same network's (trained on the other part).
  held = input_pipeline.stratified_holdout(train.labels, 0.25, 7)
  cfg = config.classifier.copy_and_resolve_references()
  cfg.num_steps = record["chosen"]["num_steps"]
  model = classifier.fit(cfg, train.images[~held], train.labels[~held],
                         train.class_names, seed=0)
  assert model.evaluate(train.images[held], train.labels[held])[
      "balanced_accuracy"] == record["validation_balanced_accuracy"]
  assert (model.evaluate(test.images, test.labels)["balanced_accuracy"]
          == result["runs"]["real"][0]["balanced_accuracy"])


def test_protocol_off_uses_the_config_as_it_is_and_refuses_val_arms():
  train = helpers.synthetic_split(n=24, num_classes=2, seed=0)
  test = helpers.synthetic_split(n=20, num_classes=2, seed=1)
  config = _protocol_config(("real",), seeds=(0,), num_steps=(5, 10))
  config.validation.fraction = 0.0
  result = downstream.run(config, train, test, None)
  assert "selection" not in result
  want = classifier.fit(config.classifier, train.images, train.labels,
                        train.class_names, seed=0)
  assert (result["runs"]["real"][0]["balanced_accuracy"]
          == want.evaluate(test.images, test.labels)["balanced_accuracy"])
  config.arms = ("real+synthetic@val",)
  with pytest.raises(UserError, match="synthetic_ratios"):
    downstream.run(config, train, test, CopyOfReal(train))
  config.validation.fraction, config.validation.metric = 0.2, "auc"
  with pytest.raises(UserError, match="validation.metric 'auc'"):
    downstream.run(config, train, test, CopyOfReal(train))


def test_gan_arms_are_compared_with_the_validation_best_classic_arm():
  result = {
      "class_names": ["a", "b"],
      "selection": {"real": {"validation_balanced_accuracy": 0.6},
                    "real+weighted": {"validation_balanced_accuracy": 0.7},
                    "real+synthetic": {"validation_balanced_accuracy": 0.5}},
      "runs": {arm: [{"balanced_accuracy": v, "recall": {"a": v, "b": 1 - v}}
                     for v in values]
               for arm, values in [("real", [0.9, 0.9, 0.9]),
                                   ("real+weighted", [0.5, 0.6, 0.7]),
                                   ("real+synthetic", [0.6, 0.8, 0.75])]}}
  comparison = downstream.compare_to_best_classic(result, "balanced_accuracy")
  # real+weighted was best on validation, though real is best on test.
  assert comparison["best_classic"] == "real+weighted"
  d = comparison["paired"]["real+synthetic"]
  want = stats.ttest_rel([0.6, 0.8, 0.75], [0.5, 0.6, 0.7])
  assert d["balanced_accuracy"]["mean"] == pytest.approx(0.35 / 3)
  assert d["balanced_accuracy"]["p"] == pytest.approx(want.pvalue)
  assert d["recall/b"]["mean"] == pytest.approx(-0.35 / 3)


class Garbage:
  """A 'generator' of uniform noise with the asked labels."""

  def sample(self, counts, seed):
    rng = np.random.default_rng(seed)
    n = sum(counts.values())
    labels = np.concatenate([np.full(k, c, np.int32)
                             for c, k in sorted(counts.items())])
    return rng.integers(0, 256, (n, 32, 32, 1), dtype=np.uint8), labels


def test_classic_strength_and_generator_are_chosen_on_validation(tmp_path):
  train = helpers.synthetic_split(n=48, num_classes=3, seed=0)
  test = helpers.synthetic_split(n=30, num_classes=3, seed=1)
  config = _protocol_config(("real+classic", "synthetic"), seeds=(0,))
  config.validation.classic_strengths = (0.5, 2.0)
  sources = {"noise": Garbage(), "copy": CopyOfReal(train)}
  log = []
  result = downstream.run(config, train, test, sources, progress=log.append)
  classic = result["selection"]["real+classic"]
  assert [c["augment_strength"] for c in classic["candidates"]] == [0.5, 2.0]
  scores = [c["balanced_accuracy"] for c in classic["candidates"]]
  assert classic["chosen"]["augment_strength"] == [0.5, 2.0][int(np.argmax(scores))]
  synthetic = result["selection"]["synthetic"]
  assert [c["generator"] for c in synthetic["candidates"]] == ["noise", "copy"]
  by_name = {c["generator"]: c["balanced_accuracy"] for c in synthetic["candidates"]}
  # A classifier trained on copies of real images beats one trained on
  # noise on the held-out real images, and the copy is chosen.
  assert by_name["copy"] > by_name["noise"]
  assert synthetic["chosen"] == {"arm": "synthetic", "generator": "copy",
                                 "num_steps": 20}
  # The chosen strength reaches the final network: seed 0's test result is
  # the network of a fit with that strength on the fitting part.
  held = input_pipeline.stratified_holdout(train.labels, 0.25, 7)
  cfg = config.classifier.copy_and_resolve_references()
  cfg.augment_strength = classic["chosen"]["augment_strength"]
  model = classifier.fit(cfg, train.images[~held], train.labels[~held],
                         train.class_names, seed=0, augment=True)
  assert (model.evaluate(test.images, test.labels)["recall"]
          == result["runs"]["real+classic"][0]["recall"])
  assert any("generator=noise" in m for m in log)
  # The paired comparison and its chart (the synthetic arm against
  # real+classic, the only classic arm here).
  assert result["comparison"]["best_classic"] == "real+classic"
  downstream_report.write_results(result, str(tmp_path))
  assert (tmp_path / "comparison.png").stat().st_size > 1000
  assert "augment_strength=" in (tmp_path / "results.md").read_text()
  # Without the protocol there is nothing to choose two generators by.
  config.validation.fraction = 0.0
  with pytest.raises(UserError, match="2 generators to choose among"):
    downstream.run(config, train, test, sources)


def test_unknown_arm_is_refused_before_any_training():
  train = helpers.synthetic_split(n=12)
  config = _bench_config(("real", "real+gan"))
  with pytest.raises(UserError, match="unknown arm 'real\\+gan'"):
    downstream.run(config, train, train, None,
                   progress=lambda m: pytest.fail("trained before refusing"))


def test_benchmark_sources_one_per_checkpoint_and_filter_threshold(
    conditional_workdir, tmp_path):
  from configs import augment_benchmark_alzheimers
  from gan import sampling
  workdir = str(conditional_workdir[0])
  gen = sampling.load_generator(workdir)
  assert synthetic_sources.parse_generator_specs([workdir, "b@12"], None) == [
      (workdir, None), ("b", 12)]
  with pytest.raises(UserError, match="after @ must be a checkpoint step"):
    synthetic_sources.parse_generator_specs(["b@last"], None)
  config = augment_benchmark_alzheimers.get_config()
  config.data.resolution = gen.resolution
  judge_config = _config()
  judge_config.data.resolution = gen.resolution
  judge_config.classifier.num_steps = 2
  judge = classifier.fit(judge_config.classifier,
                         np.zeros((4, gen.resolution, gen.resolution, 1), np.uint8),
                         np.arange(4, dtype=np.int32) % 3, gen.class_names, seed=0)
  classifier.save(judge, judge_config, str(tmp_path / "judge"))
  config.filter.classifier = str(tmp_path / "judge")
  config.validation.filter_confidences = (0.5, 0.9)
  sources, describe = synthetic_sources.benchmark_sources(
      config, gen.class_names, [(workdir, None)])
  name = f"{workdir}@{gen.step}"
  assert list(sources) == [f"{name} min_confidence=0.5",
                           f"{name} min_confidence=0.9"]
  assert [s.min_confidence for s in sources.values()] == [0.5, 0.9]
  assert describe[f"{name} min_confidence=0.9"]["family"] == "dcgan"
  config.filter.classifier = None
  sources, describe = synthetic_sources.benchmark_sources(
      config, gen.class_names, [(workdir, None)])
  assert list(sources) == [name] and describe[name]["step"] == gen.step
  with pytest.raises(UserError, match="names .* twice"):
    synthetic_sources.benchmark_sources(config, gen.class_names,
                               [(workdir, None), (workdir, gen.step)])


class StopAfter(fit_cache.FitCache):
  """A FitCache whose budget runs out after `limit` new fits."""

  def __init__(self, folder, limit):
    super().__init__(folder)
    self.limit = limit

  def check_time(self):
    if self.stored >= self.limit:
      raise fit_cache.OutOfTime("budget spent")


def test_a_stopped_benchmark_continues_to_the_uninterrupted_result(tmp_path):
  train = helpers.synthetic_split(n=48, num_classes=3, seed=0)
  test = helpers.synthetic_split(n=30, num_classes=3, seed=1)
  config = _protocol_config(("real", "real+synthetic@val"), seeds=(0, 1),
                            num_steps=(2, 20), ratios=(0.5, 1.0))
  whole = downstream.run(config, train, test, CopyOfReal(train))
  folder = str(tmp_path / "fits")
  # 2 + 4 validation fits. The first go stops after storing 5 of them; the
  # second stores the 6th and real's seed-0 test result (the stored
  # winner's network, read back), and stops before real's seed-1 fit.
  for limit in (5, 2):
    with pytest.raises(fit_cache.OutOfTime):
      downstream.run(config, train, test, CopyOfReal(train),
                     cache=StopAfter(folder, limit))
  cache = fit_cache.FitCache(folder)
  log = []
  resumed = downstream.run(config, train, test, CopyOfReal(train),
                           progress=log.append, cache=cache)
  assert resumed == whole
  # The third go reads back the 6 validation scores and real's seed-0
  # result, and stores the other 3 final results.
  assert cache.read_back == 7 and cache.stored == 3
  assert sum("(stored)" in m for m in log) == 7
  # Another config misses the stored fits instead of reusing them.
  config.classifier.learning_rate *= 2
  other = fit_cache.FitCache(folder)
  downstream.run(config, train, test, CopyOfReal(train), cache=other)
  assert other.read_back == 0
