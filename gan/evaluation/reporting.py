"""Where an evaluation's results go: the JSON file and its name, the plots
next to it, TensorBoard scalars, and the human-readable summary."""
from __future__ import annotations

import os
import re

from absl import logging

from gan import image_sources
from gan import storage
from gan.evaluation import registry
from gan.evaluation import spec


def _slug(text: str, limit: int = 60) -> str:
  text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
  return text[-limit:] or "source"


def short_name(source) -> str:
  """A file-name-friendly name of a source: its folder, file or split."""
  if isinstance(source, image_sources.TfdsSource):
    text = f"{source.name}_{source.split}"
  elif isinstance(source, image_sources.StatisticsSource):
    text = os.path.splitext(os.path.basename(source.path))[0]
  elif isinstance(source, image_sources.WorkdirSource):
    text = os.path.basename(os.path.normpath(source.workdir))
  elif not hasattr(source, "folder"):  # In-memory sources.
    text = source.spec
  else:
    text = os.path.basename(os.path.normpath(source.folder))
  class_name = getattr(source, "class_name", None)
  return _slug(text + (f"_{class_name}" if class_name else ""))


def output_location(output: str | None, sides) -> tuple[str | None,
                                                       str | None, int]:
  """(JSON path, TensorBoard dir, step) for the results."""
  workdir_sides = [s for s in sides
                   if isinstance(s.source, image_sources.WorkdirSource)]
  generated = [s for s in sides if hasattr(s.source, "generator")]
  step = int(generated[0].source.generator.step) if generated else 0
  names = "__vs__".join(short_name(s.source) for s in sides)
  if output:
    if output.endswith(".json"):
      return output, os.path.dirname(os.path.abspath(output)), step
    return os.path.join(output, f"evaluation_{names}.json"), output, step
  if workdir_sides:
    directory = os.path.join(workdir_sides[0].source.workdir, "eval")
    others = [s for s in sides if s is not workdir_sides[0]]
    other = short_name(others[0].source) if others else "self"
    return (os.path.join(directory, f"step_{step:09d}__vs__{other}.json"),
            directory, step)
  return None, None, step


def add_results(metrics: dict, results: list[spec.Result],
                plot_prefix: str | None) -> None:
  """Stores each result in `metrics`, drawing its picture (PNG) to
  `<plot_prefix>_<name>.png` when there is a prefix."""
  for result in results:
    values = dict(result.values)
    if result.draw and plot_prefix:
      path = f"{plot_prefix}_{result.name}.png"
      result.draw(path)
      values["plot"] = os.path.abspath(path)
    metrics[result.name] = values


def write_json(path: str, results: dict) -> None:
  storage.write_json(path, results, "the evaluation results", indent=2,
                     sort_keys=True)
  logging.info("results written to %s", path)


def write_tensorboard(directory: str, step: int, results: dict,
                      create_writer=None) -> None:
  scalars = registry.scalars(results)
  if not scalars:
    return
  if create_writer is None:
    from gan import metric_writers  # pylint: disable=g-import-not-at-top
    create_writer = metric_writers.create_writer
  writer = create_writer(directory)
  try:
    writer.write_scalars(step, scalars)
    writer.flush()
  finally:
    writer.close()


def summary(results: dict) -> str:
  """A few human-readable lines: every number with its N."""
  lines = []
  for name, value in results["metrics"].items():
    line = registry.summary_line(name, value)
    if line:
      lines.append(line)
    if isinstance(value, dict) and value.get("plot"):
      lines.append(f"  plot: {value['plot']}")
  for name, info in results.get("weights", {}).items():
    if info.get("description"):  # The FID Inception's weights, by name.
      lines.append(f"features: {name} with {info['description']}")
  lines.extend(f"warning: {w}" for w in results["warnings"])
  if "output" in results:
    lines.append(f"results: {results['output']}")
  return "\n".join(lines)
