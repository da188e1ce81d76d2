"""The augmentation benchmark's report: results.md, results.png,
confusion.png and results.json, from the result of `gan.downstream.run`."""
from __future__ import annotations

import json
import os

import numpy as np

from gan import downstream
from gan import plots
from gan import storage


def markdown_table(result: dict) -> str:
  names = result["class_names"]
  header = ("| arm | accuracy | balanced accuracy | macro-F1 | "
            + " | ".join(f"recall {n}" for n in names) + " |")
  lines = [header, "|" + "---|" * (4 + len(names))]
  for arm, s in result["summary"].items():
    cell = lambda d: f"{100 * d['mean']:.1f} ± {100 * d['std']:.1f}"
    lines.append(f"| {arm} | {cell(s['accuracy'])} | "
                 f"{cell(s['balanced_accuracy'])} | {cell(s['macro_f1'])} | "
                 + " | ".join(cell(s["recall"][n]) for n in names) + " |")
  if result.get("selection"):
    protocol = result["protocol"]
    lines += ["", f"Chosen by {protocol['chosen_by']} on "
              f"{protocol['validation_images']} held-out training images "
              f"(seed {protocol['validation_seed']}); networks trained on the "
              f"other {protocol['fitting_images']}.", "",
              "| arm | chosen | validation score | candidates |", "|---|---|---|---|"]
    for arm, record in result["selection"].items():
      chosen = ", ".join(f"{k}={v}" for k, v in record["chosen"].items())
      score = record["validation_" + protocol["metric"]]
      lines.append(f"| {arm} | {chosen} | {100 * score:.1f} | "
                   f"{len(record['candidates'])} |")
  comparison = result.get("comparison")
  if comparison:
    metric = comparison["best_classic_chosen_by"].removeprefix("validation_")
    lines += ["", f"Paired by seed against the best classic arm on validation, "
              f"**{comparison['best_classic']}** (test {metric}, points):", "",
              "| arm | difference | 95% interval | p (paired t) |", "|---|---|---|---|"]
    for arm, diffs in comparison["paired"].items():
      d = diffs[metric]
      interval = ("-" if d["low"] is None
                  else f"[{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]")
      p = "-" if d["p"] is None else f"{d['p']:.3g}"
      lines.append(f"| {arm} | {100 * d['mean']:+.1f} | {interval} | {p} |")
  return "\n".join(lines)


def plot(result: dict, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  arms = list(result["summary"])
  metrics = ["balanced_accuracy", "macro_f1"] + [
      f"recall/{n}" for n in result["class_names"]]
  fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(metrics)), 4.5))
  width = 0.8 / len(arms)
  for i, arm in enumerate(arms):
    s = result["summary"][arm]
    values = [downstream.metric_value(s, m) for m in metrics]
    ax.bar(np.arange(len(metrics)) + i * width, [100 * v["mean"] for v in values],
           width, yerr=[100 * v["std"] for v in values], capsize=3, label=arm)
  ax.set_xticks(np.arange(len(metrics)) + width * (len(arms) - 1) / 2)
  ax.set_xticklabels([m.replace("_", " ") for m in metrics], rotation=20, ha="right")
  ax.set_ylabel("% on the real test split (mean ± std over seeds)")
  ax.legend(fontsize=8)
  fig.tight_layout()
  plots.save_figure(fig, path, dpi=120)


def write_results(result: dict, output: str) -> None:
  """results.json, results.md, results.png, confusion.png and, with the
  protocol, comparison.png; each written atomically."""
  os.makedirs(output, exist_ok=True)
  for name, text in [("results.json", json.dumps(result, indent=1)),
                     ("results.md", markdown_table(result) + "\n")]:
    storage.write_text(os.path.join(output, name), text,
                       f"the benchmark's {name}")
  plot(result, os.path.join(output, "results.png"))
  plot_confusion(result, os.path.join(output, "confusion.png"))
  if result.get("comparison"):
    plot_comparison(result, os.path.join(output, "comparison.png"))


def plot_comparison(result: dict, path: str) -> None:
  """Each GAN arm minus the best classic arm, paired by seed: the mean
  difference and its 95% t interval, on the protocol's metric and every
  class's recall (points of the real test split)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  comparison = result["comparison"]
  arms = list(comparison["paired"])
  names = list(comparison["paired"][arms[0]])
  fig, ax = plt.subplots(figsize=(max(7, 1.5 * len(names)), 4.2))
  width = 0.8 / len(arms)
  for i, arm in enumerate(arms):
    diffs = [comparison["paired"][arm][n] for n in names]
    means = np.array([100 * d["mean"] for d in diffs])
    # No interval with one seed: the bar stands alone.
    low = np.array([100 * d["low"] if d["low"] is not None else m
                    for d, m in zip(diffs, means)])
    high = np.array([100 * d["high"] if d["high"] is not None else m
                     for d, m in zip(diffs, means)])
    ax.bar(np.arange(len(names)) + i * width, means, width,
           yerr=[means - low, high - means], capsize=3, label=arm)
  ax.axhline(0, color="black", linewidth=0.8)
  ax.set_xticks(np.arange(len(names)) + width * (len(arms) - 1) / 2)
  ax.set_xticklabels([n.replace("_", " ") for n in names], rotation=20,
                     ha="right")
  n = comparison["paired"][arms[0]][names[0]]["n"]
  ax.set_ylabel(f"minus {comparison['best_classic']} (points; 95% t interval, "
                f"{n} seeds)", fontsize=8)
  ax.set_title("GAN arms against the classic arm best on validation",
               fontsize=9)
  ax.legend(fontsize=8)
  fig.tight_layout()
  plots.save_figure(fig, path, dpi=120)


def plot_confusion(result: dict, path: str) -> None:
  """One row-normalised confusion matrix per arm (test split, all seeds)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  arms, names = list(result["summary"]), result["class_names"]
  fig, axes = plt.subplots(1, len(arms), figsize=(3.2 * len(arms), 3.6),
                           squeeze=False)
  for ax, arm in zip(axes[0], arms):
    counts = np.asarray(result["summary"][arm]["confusion"], np.float64)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for (i, j), rate in np.ndenumerate(rates):
      ax.text(j, i, f"{100 * rate:.0f}", ha="center", va="center", fontsize=7,
              color="white" if rate > 0.5 else "black")
    ax.set_title(arm, fontsize=9)
    ax.set_xticks(range(len(names)), [n[:8] for n in names], rotation=45,
                  fontsize=7)
    ax.set_yticks(range(len(names)), [n[:8] for n in names], fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
  axes[0][0].set_ylabel("true (% of the row)", fontsize=8)
  fig.tight_layout()
  plots.save_figure(fig, path, dpi=120)
