"""One benchmark protocol, shared by every program in `benchmarks/`.

The programs time this codebase against a peer (PyTorch, pytorch-fid,
prdc, ...) in the same run. This module gives them one way of doing it and
of saying what the numbers are worth:

  1. The environment: the machine (CPU model from /proc/cpuinfo, cores, RAM),
     Python, the commit of the code, the versions of the libraries the
     program uses (importlib.metadata, without importing them) and the
     thread settings: os.cpu_count(), the cores this process may run on,
     torch's threads when the program imported torch, jax's devices when it
     imported jax, and OMP_NUM_THREADS, MKL_NUM_THREADS,
     OPENBLAS_NUM_THREADS, XLA_FLAGS, TF_NUM_INTEROP_THREADS and
     TF_NUM_INTRAOP_THREADS where set.
  2. The 1-minute load average before and after the measurement, and a
     verdict, quiet or LOADED (see below). A LOADED result says so in every
     row of its tables and in every ratio line, and the program exits with
     status 1 once everything is printed (and written) unless it was given
     --allow_loaded, so that a loaded number cannot be passed off as a quiet
     one.
  3. Rounds: the sides alternate round by round, with the order reversed
     every round (A B, B A, A B, ...: under a steady drift of the machine
     neither side is always the later one), --rounds of each (default 3).
     For each side: every round's value, the median, and the spread (min-max
     and (max - min) / median in %); then the ratio of the medians.
  4. --json=PATH: all of the above, the command line and the program's own
     details, written atomically (a temporary file beside PATH, then
     os.replace).

When is the machine loaded?

The 1-minute load average counts the threads that run or wait for a core
(plus those in uninterruptible I/O), averaged with a one-minute time
constant: every 5 s, load <- load * d + n * (1 - d) with d = exp(-5 / 60).

* Before: read when the program starts, before its imports, compilations
  and warm-up (which load the machine by themselves), so nothing of ours is
  in it. An idle machine reads 0.0-0.3. At or above 0.5 x cores (1.0 on the
  project's 2-core VM), half the cores' worth of threads, on 2 cores one
  whole thread, was runnable on average over the last minute: another
  process shares the cores, takes its share of every side's time, and not
  always the same share (BENCHMARKS.md has DCGAN ratios of 1.46x and 1.98x
  at different loads). The line sits between the noise of an idle machine
  and a whole core taken elsewhere; it is coarse (0.9 passes), which is
  why every round's value and the spread are reported too.
* After: read when the measurement ends. The benchmark itself keeps up to
  `busy_threads` threads runnable (by default every core it may use), so
  it raises the load average towards that number by itself. After T
  seconds, it explains at most
      expected = before * exp(-T / 60) + busy_threads * (1 - exp(-T / 60))
  (the earlier load decaying, the benchmark's own growing). What remains,
  after - expected, is load that the benchmark does not explain, i.e.
  processes that started during the run, and it is judged against the same
  threshold. This never flags a benchmark for its own load, and it is
  lenient: over a short run the average moves little (a process that runs
  through a 10 s measurement adds only 15% of its threads to it), so short
  runs rest on the 'before' check and on the rounds' spread; and a
  benchmark that keeps fewer threads busy than `busy_threads` is given more
  room than it uses.

--max_load sets the threshold (default 0.5 x the usable cores). Both loads,
what the benchmark explains and the reasons of a LOADED verdict are
printed and written to --json.

Use in a program:

  parser = argparse.ArgumentParser()
  protocol.add_flags(parser)                 # --rounds, --max_load, ...
  args = parser.parse_args()
  session = protocol.Session(args, libraries=("jax", "torch"))
  ...                                        # set-up, warm-up
  session.rounds("DCGAN training", {"gan/jax": run_ours, "pytorch": run_peer},
                 unit="img/s", higher_is_better=True,
                 ratios=[("gan/jax", "pytorch")])
  session.finish(details={...})              # prints; exits 1 if LOADED

Each side is a callable that runs one round and returns its value (img/s,
seconds, ...): the program times what it always timed, the protocol only
orders, collects and reports. The pure functions (`summarize`,
`ratio_of_medians`, `expected_load`, `judge_load`, `alternating_order`,
`parse_cpu_model`, `parse_mem_total_gib`, `format_table`) take plain
numbers and text, for tests. Only the standard library is used, so that
this module imports anywhere.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

DEFAULT_ROUNDS = 3
# A load average at or above this many threads per usable core is "loaded"
# (module docstring).
MAX_LOAD_PER_CORE = 0.5
# Linux's time constant for the 1-minute load average, in seconds.
LOAD_TIME_CONSTANT_S = 60.0
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                   "OPENBLAS_NUM_THREADS", "XLA_FLAGS",
                   "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------
# Flags.


def add_flags(parser: argparse.ArgumentParser,
              rounds: int | None = DEFAULT_ROUNDS) -> None:
  """Adds --rounds (unless None), --max_load, --allow_loaded and --json."""
  if rounds is not None:
    parser.add_argument(
        "--rounds", type=int, default=rounds,
        help="alternating rounds of each side (order reversed every round); "
        "median and spread are over them")
  parser.add_argument(
      "--max_load", type=float, default=None,
      help="1-minute load average at or above which the machine counts as "
      f"loaded (default {MAX_LOAD_PER_CORE} x usable cores; see "
      "benchmarks/protocol.py)")
  parser.add_argument(
      "--allow_loaded", action="store_true",
      help="exit 0 even when the result is marked LOADED")
  parser.add_argument(
      "--json", default=None, metavar="PATH",
      help="also write machine, versions, loads, rounds and ratios to PATH")


# ---------------------------------------------------------------------------
# The environment.


def parse_cpu_model(cpuinfo: str) -> str | None:
  """/proc/cpuinfo's first 'model name' (x86), else 'Model'/'Hardware' (ARM)."""
  for key in ("model name", "Model", "Hardware"):
    for line in cpuinfo.splitlines():
      name, _, value = line.partition(":")
      if name.strip() == key and value.strip():
        return value.strip()
  return None


def parse_mem_total_gib(meminfo: str) -> float | None:
  """MemTotal of /proc/meminfo in GiB (the file gives kB)."""
  for line in meminfo.splitlines():
    if line.startswith("MemTotal:"):
      return int(line.split()[1]) / 2**20
  return None


def _read(path: str) -> str:
  try:
    with open(path) as f:
      return f.read()
  except OSError:
    return ""


def usable_cores() -> int:
  """The cores this process may run on (taskset, cgroups' cpusets)."""
  try:
    return len(os.sched_getaffinity(0))
  except (AttributeError, OSError):
    return os.cpu_count() or 1


def machine_info() -> dict[str, Any]:
  """CPU model, cores, RAM, operating system and Python."""
  return {
      "cpu": (parse_cpu_model(_read("/proc/cpuinfo"))
              or platform.processor() or "unknown"),
      "architecture": platform.machine(),
      "cpu_count": os.cpu_count(),
      "usable_cores": usable_cores(),
      "ram_gib": parse_mem_total_gib(_read("/proc/meminfo")),
      "system": platform.platform(),
      "python": platform.python_version(),
      "python_executable": sys.executable,
  }


def library_versions(distributions: Iterable[str]) -> dict[str, str | None]:
  """{distribution: installed version, or None when not installed}."""
  versions = {}
  for name in distributions:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  return versions


def thread_settings() -> dict[str, Any]:
  """Cores, thread environment variables, and torch's and jax's own settings.

  torch and jax are only asked when the program has imported them already
  (this module never imports them), so call it after the set-up.
  """
  settings: dict[str, Any] = {
      "os_cpu_count": os.cpu_count(),
      "usable_cores": usable_cores(),
      "env": {name: os.environ[name] for name in THREAD_ENV_VARS
              if name in os.environ},
  }
  torch = sys.modules.get("torch")
  if torch is not None and hasattr(torch, "get_num_threads"):
    settings["torch_threads"] = torch.get_num_threads()
    settings["torch_interop_threads"] = torch.get_num_interop_threads()
  jax = sys.modules.get("jax")
  if jax is not None and hasattr(jax, "devices"):
    try:
      settings["jax_devices"] = (f"{jax.device_count()} "
                                 f"{jax.default_backend()}")
    except RuntimeError as e:  # No backend could start.
      settings["jax_devices"] = f"unavailable ({e})"
  return settings


def code_version(repo: str = REPO) -> dict[str, Any]:
  """The repository's commit and whether tracked files differ from it.

  Read-only git commands (`--no-optional-locks`: status does not even
  refresh the index); {} outside a git checkout.
  """
  def git(*args):
    return subprocess.run(["git", "--no-optional-locks", "-C", repo, *args],
                          capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()
  try:
    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": bool(git("status", "--porcelain",
                                            "--untracked-files=no"))}
  except (OSError, subprocess.SubprocessError):
    return {}


# ---------------------------------------------------------------------------
# Load.


def default_max_load(cores: int) -> float:
  return MAX_LOAD_PER_CORE * cores


def load_average() -> float:
  """The 1-minute load average."""
  return os.getloadavg()[0]


def expected_load(before: float, seconds: float, busy_threads: float) -> float:
  """The most 1-minute load a benchmark explains after `seconds` on its own.

  The load seen at its start decays and its own `busy_threads` runnable
  threads build up, both with the one-minute time constant.
  """
  decay = math.exp(-max(seconds, 0.0) / LOAD_TIME_CONSTANT_S)
  return before * decay + busy_threads * (1.0 - decay)


def judge_load(before: float, after: float, seconds: float,
               busy_threads: float, max_load: float) -> dict[str, Any]:
  """Quiet or loaded, from the loads before and after a measurement.

  Args:
    before: 1-minute load average when the program started.
    after: 1-minute load average when the measurement ended.
    seconds: time between the two readings.
    busy_threads: threads the benchmark itself keeps runnable.
    max_load: the threshold (module docstring).

  Returns:
    {"loaded": bool, "reasons": [str], "expected_after": float,
     "unexplained_after": float}: loaded when `before`, or the part of
    `after` that the benchmark does not explain, is at or above `max_load`.
  """
  expected = expected_load(before, seconds, busy_threads)
  unexplained = after - expected
  reasons = []
  if before >= max_load:
    reasons.append(f"load {before:.2f} before the run >= {max_load:.2f}")
  if unexplained >= max_load:
    reasons.append(f"load {after:.2f} after the run exceeds the {expected:.2f} "
                   f"that the benchmark explains by {unexplained:.2f} >= "
                   f"{max_load:.2f}")
  return {"loaded": bool(reasons), "reasons": reasons,
          "expected_after": expected, "unexplained_after": unexplained}


# ---------------------------------------------------------------------------
# Rounds and their statistics.


def alternating_order(names: Sequence[str], round_index: int) -> list[str]:
  """The sides' order in a round: as given in even rounds, reversed in odd."""
  return list(names) if round_index % 2 == 0 else list(reversed(names))


def summarize(values: Sequence[float]) -> dict[str, Any]:
  """Values, median, min, max and relative spread (max - min) / median in %."""
  if not values:
    raise ValueError("no values")
  values = [float(v) for v in values]
  median = statistics.median(values)
  low, high = min(values), max(values)
  return {"values": values, "median": median, "min": low, "max": high,
          "spread_percent": (100.0 * (high - low) / abs(median)
                             if median else None)}


def ratio_of_medians(numerator: Sequence[float],
                     denominator: Sequence[float]) -> float | None:
  """median(numerator) / median(denominator); None when the latter is 0."""
  bottom = statistics.median(denominator)
  return statistics.median(numerator) / bottom if bottom else None


def format_value(value: float | None) -> str:
  """Four significant digits, without exponents for everyday magnitudes."""
  if value is None:
    return "-"
  if value == 0 or not math.isfinite(value):
    return f"{value:g}"
  decimals = min(6, max(0, 3 - math.floor(math.log10(abs(value)))))
  return f"{value:.{decimals}f}"


def run_rounds(
    sides: Mapping[str, Callable[[], float]], rounds: int, unit: str = "",
    log: Callable[[str], None] | None = print) -> dict[str, list[float]]:
  """Runs every side once per round, alternating, and collects the values.

  Args:
    sides: name -> callable running one round of that side and returning its
      value (img/s, seconds, ...). The first side runs first in round 1.
    rounds: number of rounds (each side runs once per round).
    unit: printed after each value in the progress lines.
    log: where each round's progress line goes (None: nowhere).

  Returns:
    name -> that side's values, in the order of the rounds.
  """
  if rounds < 1:
    raise ValueError(f"rounds must be >= 1, got {rounds}")
  values = {name: [] for name in sides}
  for r in range(rounds):
    for name in alternating_order(list(sides), r):
      values[name].append(float(sides[name]()))
      if log is not None:
        log(f"round {r + 1}/{rounds} {name}: "
            f"{format_value(values[name][-1])} {unit} "
            f"(1-min load {load_average():.2f})")
        sys.stdout.flush()
  return values


def measurement(name: str, values: Mapping[str, Sequence[float]], unit: str,
                higher_is_better: bool | None = None,
                ratios: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
  """A measurement's record: per-side summaries and the ratios of medians."""
  if not values:
    raise ValueError(f"measurement {name!r} has no sides")
  for pair in ratios:
    for side in pair:
      if side not in values:
        raise ValueError(f"ratio side {side!r} is not one of {list(values)}")
  return {
      "name": name, "unit": unit, "higher_is_better": higher_is_better,
      "sides": {side: summarize(v) for side, v in values.items()},
      "ratios": [{"numerator": top, "denominator": bottom,
                  "value": ratio_of_medians(values[top], values[bottom])}
                 for top, bottom in ratios],
  }


def format_table(record: Mapping[str, Any], loaded: bool) -> list[str]:
  """A measurement as a Markdown table and its ratio lines."""
  state = "LOADED" if loaded else "quiet"
  better = {True: ", higher is better", False: ", lower is better"}.get(
      record["higher_is_better"], "")
  num_rounds = max(len(s["values"]) for s in record["sides"].values())
  plural = "s" if num_rounds > 1 else ""
  lines = [f"{record['name']} ({record['unit']}{better}; {num_rounds} "
           f"round{plural}){' LOADED' if loaded else ''}",
           "| side | " + " | ".join(f"round {i + 1}" for i in range(num_rounds))
           + " | median | min-max | spread | machine |",
           "|---" * (num_rounds + 5) + "|"]
  for side, s in record["sides"].items():
    cells = [format_value(v) for v in s["values"]]
    cells += [""] * (num_rounds - len(cells))
    spread = ("-" if s["spread_percent"] is None
              else f"{s['spread_percent']:.1f}%")
    lines.append(f"| {side} | " + " | ".join(cells) + f" | "
                 f"{format_value(s['median'])} | {format_value(s['min'])}-"
                 f"{format_value(s['max'])} | {spread} | {state} |")
  for ratio in record["ratios"]:
    value = "-" if ratio["value"] is None else f"{ratio['value']:.2f}x"
    lines.append(f"ratio of medians ({ratio['numerator']} / "
                 f"{ratio['denominator']}, {record['unit']}): {value} "
                 f"{state}")
  return lines


# ---------------------------------------------------------------------------
# Output.


def _jsonable(value):
  if hasattr(value, "item"):  # numpy scalars.
    return value.item()
  if hasattr(value, "tolist"):  # numpy arrays.
    return value.tolist()
  return str(value)


def write_json_atomic(path: str, data: Any) -> None:
  """Writes `data` as JSON to a temporary file beside `path`, then renames.

  A reader of `path` sees the old file or the whole new one, never a part.
  """
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                             suffix=".tmp", dir=folder)
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(data, f, indent=1, default=_jsonable)
      f.write("\n")
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _now() -> str:
  return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class Session:
  """One program's run under the protocol.

  Create it first thing in `main` (it reads the load before the set-up), add
  measurements with `rounds` or `add`, and end with `finish`.
  """

  def __init__(self, args: argparse.Namespace, libraries: Sequence[str] = (),
               busy_threads: float | None = None):
    """Reads the load before the run and prints it.

    Args:
      args: parsed flags, with those of `add_flags`.
      libraries: distributions whose versions are reported ("jax", "torch",
        "scikit-learn", ...; "numpy" is always added).
      busy_threads: threads the benchmark keeps runnable (default: every
        usable core), for judging the load after the run.
    """
    self.args = args
    self.libraries = list(dict.fromkeys(["numpy", *libraries]))
    self.cores = usable_cores()
    self.busy_threads = float(busy_threads or self.cores)
    self.max_load = (args.max_load if args.max_load is not None
                     else default_max_load(self.cores))
    self.measurements: list[dict[str, Any]] = []
    self.start_time = _now()
    self.start = time.monotonic()
    self.load_before = load_average()
    print(f"1-min load average before: {self.load_before:.2f} (LOADED at >= "
          f"{self.max_load:.2f}, {self.cores} usable cores)", flush=True)
    if self.load_before >= self.max_load:
      print("LOADED: the machine is not quiet; the result will be marked "
            "LOADED" + ("" if args.allow_loaded else
                        " and the program will exit with status 1 "
                        "(--allow_loaded to exit 0)"), flush=True)

  def rounds(self, name: str, sides: Mapping[str, Callable[[], float]], *,
             unit: str, higher_is_better: bool | None = None,
             ratios: Sequence[tuple[str, str]] = (),
             rounds: int | None = None) -> dict[str, list[float]]:
    """`run_rounds` (default: --rounds rounds), recorded as one measurement."""
    values = run_rounds(sides, rounds or self.args.rounds, unit)
    self.add(name, values, unit=unit, higher_is_better=higher_is_better,
             ratios=ratios)
    return values

  def add(self, name: str, values: Mapping[str, Sequence[float]], *,
          unit: str, higher_is_better: bool | None = None,
          ratios: Sequence[tuple[str, str]] = ()) -> None:
    """Records values that the program measured itself (same report)."""
    self.measurements.append(
        measurement(name, values, unit, higher_is_better, ratios))

  def finish(self, details: Mapping[str, Any] | None = None) -> None:
    """Reads the load after, prints everything, writes --json, exits if LOADED.

    Args:
      details: the program's own results (values, differences, memory...),
        written to --json under "details".
    """
    seconds = time.monotonic() - self.start
    load_after = load_average()
    verdict = judge_load(self.load_before, load_after, seconds,
                         self.busy_threads, self.max_load)
    loaded = verdict["loaded"]
    machine = machine_info()
    code = code_version()
    versions = library_versions(self.libraries)
    threads = thread_settings()

    ram = machine["ram_gib"]
    print(f"\ncommand: {shlex.join([sys.executable, *sys.argv])}")
    print(f"time: {self.start_time} to {_now()} ({seconds:.0f} s)")
    print(f"machine: {machine['cpu']}, {machine['architecture']}, "
          f"{machine['cpu_count']} CPUs ({machine['usable_cores']} usable), "
          + (f"{ram:.1f} GiB RAM" if ram else "RAM unknown")
          + f"; {machine['system']}; Python {machine['python']}")
    if code:
      print(f"code: commit {code['commit'][:12]}"
            + (" with uncommitted changes" if code["uncommitted_changes"]
               else ""))
    missing = [name for name, version in versions.items() if not version]
    print("versions: " + ", ".join(
        f"{name} {version}" for name, version in versions.items() if version)
          + (f" (not installed: {', '.join(missing)})" if missing else ""))
    thread_parts = [f"os.cpu_count() {threads['os_cpu_count']}",
                    f"usable cores {threads['usable_cores']}"]
    if "torch_threads" in threads:
      thread_parts.append(f"torch {threads['torch_threads']} threads "
                          f"({threads['torch_interop_threads']} interop)")
    if "jax_devices" in threads:
      thread_parts.append(f"jax devices {threads['jax_devices']}")
    thread_parts += [f"{k}={v}" for k, v in threads["env"].items()]
    if not threads["env"]:
      thread_parts.append("no thread environment variables set")
    print("threads: " + ", ".join(thread_parts))
    print(f"1-min load average: {self.load_before:.2f} before, "
          f"{load_after:.2f} after {seconds:.0f} s (the benchmark explains "
          f"up to {verdict['expected_after']:.2f} with "
          f"{self.busy_threads:g} busy threads; unexplained "
          f"{verdict['unexplained_after']:.2f}); threshold "
          f"{self.max_load:.2f}: {'LOADED' if loaded else 'quiet'}")
    for reason in verdict["reasons"]:
      print(f"  LOADED: {reason}")
    for record in self.measurements:
      print()
      print("\n".join(format_table(record, loaded)))
    sys.stdout.flush()

    if self.args.json:
      write_json_atomic(self.args.json, {
          "program": os.path.basename(sys.argv[0]),
          "command": [sys.executable, *sys.argv],
          "cwd": os.getcwd(),
          "start": self.start_time, "end": _now(), "seconds": seconds,
          "machine": machine, "code": code, "versions": versions,
          "threads": threads,
          "load": {"before": self.load_before, "after": load_after,
                   "busy_threads": self.busy_threads,
                   "max_load": self.max_load, **verdict},
          "loaded": loaded, "allow_loaded": self.args.allow_loaded,
          "measurements": self.measurements,
          "details": dict(details or {}),
      })
      print(f"wrote {self.args.json}")
    if loaded and not self.args.allow_loaded:
      sys.exit("LOADED: exit status 1 (the machine was not quiet; "
               "--allow_loaded keeps a loaded result with status 0)")
