"""The metric catalogue: every `MetricSpec`, and what is generated from them.

From the specs come the metric names (`METRICS`, `DEFAULT_METRICS`), the
options dataclass (`MetricOptions`: one field per `Option`, plus the seed
the random draws share), the `python -m gan.evaluate` flags
(`define_flags`), the `config.eval` fields (`add_config_fields`), the count
checks, the TensorBoard scalars and the summary lines. Adding a metric: one
file in `gan/evaluation/specs/` and its line in `SPECS`.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from gan.errors import UserError
from gan.evaluation import spec
from gan.evaluation.specs import fid
from gan.evaluation.specs import geometry_score
from gan.evaluation.specs import inception_score
from gan.evaluation.specs import kid
from gan.evaluation.specs import lid
from gan.evaluation.specs import memorization
from gan.evaluation.specs import ms_ssim
from gan.evaluation.specs import prd
from gan.evaluation.specs import prdc

# In this order the metrics are computed, stored and summarised.
SPECS: tuple[spec.MetricSpec, ...] = (
    fid.SPEC, kid.SPEC, inception_score.SPEC, prdc.SPEC, prd.SPEC, lid.SPEC,
    geometry_score.SPEC, ms_ssim.SPEC, memorization.SPEC,
)
_BY_NAME = {s.name: s for s in SPECS}
_BY_RESULT = {r: s for s in SPECS for r in s.result_names}

METRICS = tuple(s.name for s in SPECS)
DEFAULT_METRICS = tuple(s.name for s in SPECS if s.default)
# Metrics on features of both sources (all but fid need more than statistics).
FEATURE_METRICS = tuple(s.name for s in SPECS if s.compares)

# Options every random draw shares (k-means, subsets, landmarks, pairs).
COMMON_OPTIONS = (
    spec.Option("seed", 0, "Seed of prd, lid, geometry_score, ms_ssim draws.",
                flag="metric_seed", config_default=None),
)
OPTIONS: tuple[spec.Option, ...] = tuple(
    o for s in SPECS for o in s.options) + COMMON_OPTIONS

MetricOptions = dataclasses.make_dataclass(
    "MetricOptions", [(o.name, type(o.default), dataclasses.field(
        default=o.default)) for o in OPTIONS],
    namespace={"__doc__": "Parameters of the metrics (defaults: the "
                          "references'); one field per `spec.Option`.",
               "__module__": __name__})


def get(name: str) -> spec.MetricSpec:
  return _BY_NAME[name]


def for_result(name: str) -> spec.MetricSpec | None:
  """The spec behind an entry of `results["metrics"]` (e.g. is_a -> is)."""
  return _BY_NAME.get(name) or _BY_RESULT.get(name)


def parse_metrics(metrics: Sequence[str] | str) -> tuple[list[str], bool]:
  """(metric names in canonical order, whether `all` was asked for)."""
  if isinstance(metrics, str):
    metrics = metrics.split(",")
  chosen = [m.strip().lower() for m in metrics if m.strip()]
  everything = "all" in chosen
  unknown = [m for m in chosen if m not in METRICS and m != "all"]
  if unknown or not chosen:
    raise UserError(f"unknown metrics {unknown or list(metrics)}; choose from "
                    f"{', '.join(METRICS)} or all (e.g. --metrics=fid,kid,is)")
  if everything:
    return list(METRICS), True
  return [m for m in METRICS if m in chosen], False


def check_sample_counts(chosen: Sequence[str], options,
                        num_a: int | None, num_b: int | None,
                        name_a: str = "source_a",
                        name_b: str = "source_b") -> None:
  """One-line UserErrors for sets too small for a metric's k (None: unknown),
  and for options no metric can take.

  Checked before any network runs (and at the start of training for the
  periodic evaluation), naming the flag that lowers the requirement.
  """
  for s in SPECS:
    if s.validate:
      s.validate(options)
  counts = spec.Counts(num_a, num_b, name_a, name_b)
  for name in chosen:
    if get(name).check_counts:
      get(name).check_counts(options, counts)


def scalars(results: dict, prefix: str = "eval/") -> dict[str, float]:
  """The headline numbers of `results` as TensorBoard scalars."""
  out = {}
  for name, value in results["metrics"].items():
    s = for_result(name)
    keys = s.scalars if s else {"mean": "{name}_mean", "std": "{name}_std"}
    for key, scalar in keys.items():
      if key in value and value[key] is not None:
        out[prefix + scalar.format(name=name)] = float(value[key])
  return out


def summary_line(name: str, values: dict) -> str | None:
  s = for_result(name)
  return s.summary(name, values) if s else None


# ---- Generated interfaces: flags and config fields ---------------------------


def define_flags(flags_module):
  """Defines one integer flag per option; returns `() -> MetricOptions`
  reading them (call it after flags are parsed)."""
  holders = {o.name: flags_module.DEFINE_integer(o.flag_name, o.default,
                                                 o.help)
             for o in OPTIONS if o.flag_name}

  def options():
    return MetricOptions(**{name: h.value for name, h in holders.items()})
  return options


def add_config_fields(ev) -> None:
  """Adds every option (not `seed`: `config.eval.seed` is the latents') to
  the `config.eval` ConfigDict `ev`, at its training default."""
  for o in OPTIONS:
    if o is not COMMON_OPTIONS[0]:
      ev[o.name] = o.default if o.config_default is None else o.config_default


def options_from_config(ev):
  """MetricOptions from `config.eval` (fields it lacks keep the defaults:
  configs written before a metric existed). The draws' `seed` is
  `config.eval.seed`, the one seed of an evaluation during training."""
  defaults = MetricOptions()
  return MetricOptions(**{o.name: ev.get(o.name, getattr(defaults, o.name))
                          for o in OPTIONS})
