"""Loading a trained generator from a workdir and drawing samples from it."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import jax
import ml_collections
import numpy as np

from gan import checkpoint as checkpoint_lib
from gan import steps
from gan.errors import UserError


@dataclasses.dataclass
class Generator:
  """The EMA generator of a checkpoint, ready to sample."""
  config: ml_collections.ConfigDict
  params: Any
  batch_stats: Any
  class_names: list[str]
  num_classes: int          # 0 for an unconditional model.
  step: int
  # The classes it was trained on (`data.classes`; None: all of
  # class_names): what it draws by default, and the name of an unconditional
  # model's samples when that is one class.
  classes: list[str] | None = None

  @property
  def drawn_classes(self) -> list[str]:
    return list(self.classes or self.class_names)

  @property
  def drawn_labels(self) -> list[int]:
    return [self.class_names.index(name) for name in self.drawn_classes]

  @property
  def resolution(self) -> int:
    return self.config.data.resolution

  @property
  def channels(self) -> int:
    return self.config.data.channels

  def __post_init__(self):
    self._generate = steps.make_generate_fn(self.config, len(self.class_names))

  def check_labels(self, labels) -> np.ndarray | None:
    if labels is None:
      return None
    labels = np.asarray(labels, np.int32)
    if not self.num_classes:
      raise UserError("this checkpoint's generator is not class-conditional; "
                      "ask for samples without classes, or train with "
                      "--config.data.conditional=True")
    bad = labels[(labels < 0) | (labels >= self.num_classes)]
    if bad.size:
      raise UserError(f"class index {int(bad[0])} out of range: the model has "
                      f"{self.num_classes} classes {self.class_names}")
    return labels

  def sample(self, num: int, seed: int, labels=None, batch_size: int = 64,
             truncation: float = 1.0) -> Iterator[np.ndarray]:
    """Yields float32 [B, R, R, C] batches in [-1, 1], `num` images in all.

    labels: [num] class indices for a conditional model; None draws the
    classes it was trained on round-robin (conditional) or none
    (unconditional). Deterministic for a
    given (seed, batch_size): BatchNorm uses the statistics of each generated
    batch, so every batch is generated at the full `batch_size`.
    truncation: StyleGAN2's psi (1 = none; smaller trades diversity for
    fidelity); other models accept only 1.
    """
    labels = self.check_labels(labels)
    if labels is not None and len(labels) != num:
      raise ValueError(f"got {len(labels)} labels for {num} samples")
    if labels is None and self.num_classes:
      drawn = np.asarray(self.drawn_labels, np.int32)
      labels = drawn[np.arange(num) % len(drawn)]
    key = jax.random.key(seed)
    latent_dim = self.config.model.latent_dim
    for i, start in enumerate(range(0, num, batch_size)):
      count = min(batch_size, num - start)
      z = jax.random.normal(jax.random.fold_in(key, i), (batch_size, latent_dim))
      batch_labels = None
      if labels is not None:
        batch_labels = np.resize(labels[start:start + count], batch_size)
      images = self._generate(self.params, self.batch_stats, z, batch_labels,
                              truncation=truncation)
      yield np.asarray(images[:count])


def class_seed(seed: int, class_index: int) -> int:
  """The seed of one class's latent stream in a per-class export.

  One stream per class, so adding or resizing one class leaves every other
  class's images unchanged (gan.sample and the augmentation benchmark).
  """
  return seed * 1000 + class_index


def load_generator(workdir: str, step: int | None = None) -> Generator:
  """The EMA generator saved in `workdir` at `step` (default: the latest)."""
  checkpointer = checkpoint_lib.Checkpointer(workdir, read_only=True)
  meta = checkpointer.restore_meta(step)
  config = ml_collections.ConfigDict(meta["config"])
  if steps.task(config) != steps.GENERATION:
    raise UserError(f"{workdir} holds a {config.model.name!r} model, which "
                    f"translates images rather than drawing them; use "
                    f"python -m gan.translate --workdir={workdir}")
  class_names = list(meta["class_names"])
  template = jax.eval_shape(
      lambda: steps.create_train_state(config, len(class_names)))
  state = checkpointer.restore(template, config, step)
  return Generator(config=config, params=state.ema_params,
                   batch_stats=state.g_batch_stats, class_names=class_names,
                   num_classes=int(meta["num_classes"]), step=int(state.step),
                   classes=meta.get("classes"))


def write_grid(workdir: str, out: str, labels=None, num: int = 16,
               truncation: float = 1.0, seed: int = 0,
               step: int | None = None, rows: int | None = None) -> np.ndarray:
  """Samples `labels` (or `num` images) and saves a PNG grid; returns it.

  labels: class indices, one image each (conditional models); None samples
  `num` images (round-robin classes for a conditional model).
  """
  from gan import pixels  # pylint: disable=g-import-not-at-top
  if not 0 <= truncation <= 2:
    raise UserError(f"truncation must be in [0, 2], got {truncation}; 1 = "
                    f"none, 0.5-0.8 are usual")
  gen = load_generator(workdir, step)
  if labels is not None:
    labels = gen.check_labels(labels)
    num = len(labels)
  images = np.concatenate(list(gen.sample(
      num, seed, labels=labels, batch_size=min(num, 64),
      truncation=truncation)))
  grid = pixels.make_grid(pixels.to_uint8(images),
                              rows=rows or max(1, int(np.sqrt(num))))
  pixels.save_png(grid, out)
  return grid
