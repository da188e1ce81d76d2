"""GAN families by `config.model.name`: how each one trains and samples.

A family is one module here with:
  LOSSES                  the `train.loss` names its step can run;
  IGNORED_FIELDS          config fields (dotted prefixes) it never reads:
                          not compared on resume, named when set (the
                          other families' sections `model.<name>.` are
                          added here: a new family's section is ignored
                          by the others without touching them);
  validate(config)        one-line UserErrors for values it cannot run;
  create_train_state(config, num_classes) -> state
                          a flax.struct dataclass with at least step,
                          g_params, g_batch_stats, d_params, d_batch_stats,
                          g_opt_state, d_opt_state, ema_params and rng;
  step_phase(config, step) -> a hashable static value (None: one phase)
                          decided on the host (each phase compiles once);
  make_train_step(config, num_classes)
                          -> pure `(state, batch, rng, phase) -> (state,
                          metrics)`, run under `parallel.data_parallel_step`;
  make_generate_fn(config, num_classes)
                          -> `(params, batch_stats, z, labels,
                          truncation=1.0) -> images in [-1, 1]`.
A family may set TASK = "translation" (default "generation"): its batches
are then pairs and its sampler translates source images (`translation`,
shared by pix2pix and CycleGAN); the loop asks `gan.tasks` for the data,
grids and evaluation of the task.
Shared pieces (labels, the non-finite guard, R1, EMA) are in `common`.
Adding a family: its module plus one line in `_FAMILIES` (README, "Adding a
GAN family"). The training loop (`gan/train.py`) and the sampler
(`gan/sampling.py`) only call the functions below.
"""
from __future__ import annotations

from gan import checkpoint
from gan import losses
from gan.errors import UserError
from gan.steps import cyclegan
from gan.steps import dcgan
from gan.steps import fastgan
from gan.steps import pix2pix
from gan.steps import stylegan2

_FAMILIES = {
    "cyclegan": cyclegan,
    "dcgan": dcgan,
    "fastgan": fastgan,
    "pix2pix": pix2pix,
    "stylegan2": stylegan2,
}

GENERATION = "generation"


def names() -> list[str]:
  return sorted(_FAMILIES)


def get(config):
  """The family module of `config.model.name` (one-line error if none)."""
  name = config.model.name
  if name not in _FAMILIES:
    raise UserError(f"unknown model {name!r}; set --config.model.name to one "
                    f"of {names()}")
  return _FAMILIES[name]


def task(config) -> str:
  """"generation" (noise to image) or "translation" (image to image)."""
  return getattr(get(config), "TASK", GENERATION)


def validate(config) -> None:
  """The family's own checks, and the loss its step must be able to run."""
  family = get(config)
  losses.get(config.train.loss)  # A known loss at all.
  if config.train.loss not in family.LOSSES:
    raise UserError(
        f"model {config.model.name!r} cannot train with loss "
        f"{config.train.loss!r} (its step would silently leave out what the "
        f"loss needs); set --config.train.loss to one of "
        f"{list(family.LOSSES)}")
  family.validate(config)


def ignored_fields_set(config, defaults) -> list[str]:
  """Fields of `config` that differ from `defaults` but that the family of
  `config.model.name` never reads, as 'field=value'."""
  ignored = ignored_on_resume(config)
  current, default = _flatten(config.to_dict()), _flatten(defaults.to_dict())
  return [f"{key}={value!r}" for key, value in sorted(current.items())
          if key.startswith(ignored) and key in default
          and value != default[key]]


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in d.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def config_differences(saved: dict, current: dict) -> list[str]:
  """`checkpoint.config_differences` without the fields the current
  family never reads (a DCGAN's model.stylegan2.*, a StyleGAN2's widths)."""
  name = (current.get("model") or {}).get("name")
  ignored = _ignored(name) if name in _FAMILIES else ()
  return checkpoint.config_differences(saved, current, ignored=ignored)


def ignored_on_resume(config) -> tuple[str, ...]:
  """The fields (dotted prefixes) the family of `config` never reads."""
  get(config)  # One-line error for an unknown family.
  return _ignored(config.model.name)


def _ignored(name: str) -> tuple[str, ...]:
  others = tuple(f"model.{other}." for other in _FAMILIES if other != name)
  if getattr(_FAMILIES[name], "TASK", GENERATION) == GENERATION:
    others += ("data.pairs.",)  # The translation families' data.
  return tuple(_FAMILIES[name].IGNORED_FIELDS) + others


def create_train_state(config, num_classes: int):
  return get(config).create_train_state(config, num_classes)


def step_phase(config, step: int):
  return get(config).step_phase(config, step)


def make_train_step(config, num_classes: int):
  return get(config).make_train_step(config, num_classes)


def make_generate_fn(config, num_classes: int):
  return get(config).make_generate_fn(config, num_classes)
