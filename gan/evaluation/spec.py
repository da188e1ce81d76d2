"""What a metric is to the evaluation: one `MetricSpec` per metric.

A spec says what the metric needs (features of both sources, statistics
allowed, Inception logits of each source, or images of source_a), its
options (each one a `MetricOptions` field, a `python -m gan.evaluate` flag
and a `config.eval` field, all generated from the `Option`), the smallest
sets it can take, how to compute it from `Inputs` (through the pure
functions of `gan.metrics`), its TensorBoard scalars, its summary line, and
an optional picture (drawn by the reporting layer, never by the metric).
`gan.evaluation.registry` lists the specs; adding a metric is one file in
`gan/evaluation/specs/` plus one line there.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Callable, Mapping

import numpy as np

from gan.errors import UserError

# What a metric reads (source_a = generated, source_b = real).
FEATURES = "features"                # Features of both sources.
FEATURES_OR_STATISTICS = "features_or_statistics"  # FID: a .npz will do.
LOGITS = "logits"                    # Inception logits of each source.
IMAGES_A = "images_a"                # Pixels of source_a (no network).


@dataclasses.dataclass(frozen=True)
class Option:
  """One parameter of a metric.

  name: the `MetricOptions` field and the `config.eval` field.
  flag: the `gan.evaluate` flag (default: the name); None for no flag.
  config_default: the `config.eval` default where training evaluates with
    a cheaper setting than the reference (e.g. fewer Geometry Score runs).
  """
  name: str
  default: Any
  help: str
  flag: str | None = ""
  config_default: Any = None

  @property
  def flag_name(self) -> str | None:
    return self.name if self.flag == "" else self.flag


@dataclasses.dataclass
class Counts:
  """Image counts of the two sources (None: not known yet), with names."""
  num_a: int | None
  num_b: int | None
  name_a: str = "source_a"
  name_b: str = "source_b"

  def need(self, metric: str, side: str, minimum: int, fix: str = "") -> None:
    """A one-line UserError when source `side` ('a'/'b') has < minimum."""
    count, name = ((self.num_a, self.name_a) if side == "a"
                   else (self.num_b, self.name_b))
    if count is not None and count < minimum:
      raise UserError(f"{metric} needs at least {minimum} images in {name}, "
                      f"which has {count}; use more images{fix}")


@dataclasses.dataclass
class Inputs:
  """What the metrics of one evaluation are computed from.

  features_a, features_b: [N, D] features of each source under the
    evaluation's feature (or a `Statistics` for a statistics file; None
    when not extracted).
  logits: {"a"/"b": [N, 1008] Inception logits} of the sources with images.
  images_a, images_b: uint8 [N, H, W, C] when a metric asked to keep them.
  names: {"a"/"b": source spec}; short_a: a short name of source_a (plots).
  """
  options: Any
  features_a: Any = None
  features_b: Any = None
  logits: dict = dataclasses.field(default_factory=dict)
  images_a: np.ndarray | None = None
  images_b: np.ndarray | None = None
  names: dict = dataclasses.field(default_factory=dict)
  short_a: str = "generated"
  warn: Callable[[str], None] = lambda message: None


@dataclasses.dataclass
class Result:
  """One entry of `results["metrics"]`: its name, JSON-able values, and a
  function `draw(path)` writing its picture (PNG), or None."""
  name: str
  values: dict
  draw: Callable[[str], Any] | None = None


@dataclasses.dataclass(frozen=True)
class MetricSpec:
  """A metric as the evaluation sees it (see the module docstring).

  name: as in `--metrics`. needs: FEATURES, FEATURES_OR_STATISTICS, LOGITS
    or IMAGES_A. default: one of the metrics computed when none are named.
  compute: Inputs -> list of Result (IS gives one per source).
  summary: (result name, values) -> one human-readable line.
  scalars: values key -> TensorBoard scalar name; '{name}' is replaced by
    the result's name (is_a, is_b).
  check_counts: (options, Counts) -> None; raises a one-line UserError when
    a source is too small (checked before any network runs).
  validate: options -> None; raises on options the metric cannot take.
  keeps_images: plotting -> the sources ('a', 'b') whose images the metric
    reads (pixels kept in memory as uint8).
  results: the names of its entries in `results["metrics"]`.
  skipped_against_statistics: a statistics file on either side skips it
    with a warning even when named (KID, as it always has).
  """
  name: str
  help: str
  needs: str
  compute: Callable[[Inputs], list]
  summary: Callable[[str, dict], str]
  scalars: Mapping[str, str] = dataclasses.field(default_factory=dict)
  options: tuple = ()
  default: bool = False
  check_counts: Callable[[Any, Counts], None] | None = None
  validate: Callable[[Any], None] | None = None
  keeps_images: Callable[[bool], frozenset] = lambda plotting: frozenset()
  results: tuple = ()
  skipped_against_statistics: bool = False

  @property
  def result_names(self) -> tuple:
    return self.results or (self.name,)

  @property
  def compares(self) -> bool:
    """Whether it needs two sources (not IS or ms_ssim)."""
    return self.needs in (FEATURES, FEATURES_OR_STATISTICS)

  @property
  def single_source(self) -> bool:
    return not self.compares

  def flags_text(self) -> str:
    return ", ".join(f"--{o.flag_name}" for o in self.options if o.flag_name)

  @contextlib.contextmanager
  def errors(self):
    """Prefixes a metric function's UserError with the metric and flags."""
    try:
      yield
    except UserError as e:
      flags = self.flags_text()
      raise UserError(f"{self.name}: {e}" + (f" ({flags})" if flags else "")
                      ) from None
