"""PNG plots of results (matplotlib Agg), written atomically: the reporting
layer of the evaluation and the downstream benchmark (metrics stay pure).

Each figure is rendered in memory and written by `gan.storage` (free space
checked, temporary file renamed into place), so a reader (TensorBoard, a
polling evaluator) never sees a half-written PNG.
"""
from __future__ import annotations

import io

import numpy as np

from gan import storage
from gan.errors import UserError


def _pyplot():
  import matplotlib
  matplotlib.use("Agg", force=False)
  import matplotlib.pyplot as plt
  return plt


def save_figure(fig, path: str, dpi: int = 120) -> str:
  """Writes `fig` to `path` (PNG) atomically and closes it; returns path."""
  buffer = io.BytesIO()
  try:
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
  finally:
    _pyplot().close(fig)
  storage.write_bytes(path, buffer.getvalue(), "a plot")
  return path


def plot_prd(curves: dict, path: str) -> str:
  """PRD curves, recall on x, precision on y, both in [0, 1].

  curves: {label: (precision [A], recall [A])}.
  """
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(4.5, 4.5))
  for label, (precision, recall) in curves.items():
    ax.plot(recall, precision, label=label, linewidth=1.5)
  ax.set_xlim(0, 1.02)
  ax.set_ylim(0, 1.02)
  ax.set_xlabel("recall")
  ax.set_ylabel("precision")
  ax.set_title("PRD")
  ax.grid(alpha=0.3)
  ax.legend(loc="lower left")
  return save_figure(fig, path)


def plot_mrlt(mrlts: dict, path: str) -> str:
  """Mean relative living times as bars per number of holes.

  mrlts: {label: [i_max] float in [0, 1]}; only the first i with mass are
  shown.
  """
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(6, 3.5))
  arrays = {k: np.asarray(v) for k, v in mrlts.items()}
  last = max((int(np.max(np.nonzero(v > 1e-3)[0], initial=0)) for v in
              arrays.values()), default=0)
  shown = max(last + 2, 5)
  width = 0.8 / max(1, len(arrays))
  for n, (label, values) in enumerate(arrays.items()):
    xs = np.arange(shown) + n * width
    ax.bar(xs, values[:shown], width=width, label=label, alpha=0.8)
  ax.set_xlabel("number of 1-dimensional holes i")
  ax.set_ylabel("mean relative living time")
  ax.set_title("Geometry Score: MRLT")
  ax.legend()
  return save_figure(fig, path)


def _to_display(image: np.ndarray) -> np.ndarray:
  """[H, W, C] in [-1, 1] -> [H, W] or [H, W, 3] in [0, 1]."""
  image = np.clip((np.asarray(image, np.float32) + 1.0) / 2.0, 0, 1)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  return image


def plot_pairs(left_images, right_images, path: str, captions=None,
               titles=("generated", "nearest training")) -> str:
  """A grid with one row per pair: left image, right image.

  left_images, right_images: [P, H, W, C] float in [-1, 1] (C = 1 or 3).
  captions: optional P strings, written beside each row.
  """
  plt = _pyplot()
  left = np.asarray(left_images)
  right = np.asarray(right_images)
  pairs = len(left)
  fig, axes = plt.subplots(max(pairs, 1), 2, figsize=(4, 2 * max(pairs, 1)),
                           squeeze=False)
  for p in range(pairs):
    for c, image in enumerate((left[p], right[p])):
      ax = axes[p, c]
      ax.imshow(_to_display(image), cmap="gray", vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      if p == 0:
        ax.set_title(titles[c], fontsize=9)
    if captions is not None:
      axes[p, 0].set_ylabel(captions[p], fontsize=8)
  return save_figure(fig, path)


def plot_memorization(result: dict, generated_images, training_images,
                      path: str) -> str:
  """The `num_shown` closest pairs of a memorisation audit, lowest ratio first.

  result: `gan.metrics.memorization.memorization_audit`'s dict.
  generated_images, training_images: [M, H, W, C] / [N, H, W, C] in [-1, 1].
  """
  generated = np.asarray(generated_images)
  training = np.asarray(training_images)
  if generated.ndim != 4 or training.ndim != 4:
    raise UserError("the memorisation grid needs [N, H, W, C] images; pass "
                    "generated_images and training_images")
  order = result["closest_generated"]
  captions = [f"ratio {result['ratio'][g]:.3f}" for g in order]
  return plot_pairs(generated[order],
                    training[result["nearest_training_index"][order]], path,
                    captions=captions)
