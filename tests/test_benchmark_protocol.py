"""The benchmark protocol's decisions (benchmarks/protocol.py), on numbers:
the loaded verdict, the alternating order, median and spread, the ratio."""
import importlib.util
import json
import math
import os

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "benchmarks", "protocol.py")
_spec = importlib.util.spec_from_file_location("benchmark_protocol", _PATH)
protocol = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(protocol)


def test_before_load_at_the_threshold_is_loaded():
  assert protocol.default_max_load(2) == 1.0
  quiet = protocol.judge_load(0.3, 1.5, 120, busy_threads=2, max_load=1.0)
  assert not quiet["loaded"] and quiet["reasons"] == []
  loaded = protocol.judge_load(1.0, 1.5, 120, busy_threads=2, max_load=1.0)
  assert loaded["loaded"] and "before" in loaded["reasons"][0]


def test_after_load_counts_only_what_the_benchmark_does_not_explain():
  # 60 s of 2 busy threads from 0: the benchmark explains 2 (1 - 1/e).
  want = 2 * (1 - math.exp(-1))
  assert protocol.expected_load(0.0, 60, 2) == pytest.approx(want)
  assert protocol.expected_load(1.5, 0, 2) == pytest.approx(1.5)
  own = protocol.judge_load(0.2, want + 0.9, 60, busy_threads=2, max_load=1.0)
  assert not own["loaded"]
  other = protocol.judge_load(0.2, want + 0.2 * math.exp(-1) + 1.1, 60,
                              busy_threads=2, max_load=1.0)
  assert other["loaded"] and other["unexplained_after"] == pytest.approx(1.1)


def test_sides_alternate_and_rounds_are_summarised():
  assert protocol.alternating_order(["a", "b"], 0) == ["a", "b"]
  assert protocol.alternating_order(["a", "b"], 1) == ["b", "a"]
  calls = []
  values = protocol.run_rounds(
      {"a": lambda: calls.append("a") or 1.0,
       "b": lambda: calls.append("b") or 2.0}, rounds=3, log=None)
  assert calls == ["a", "b", "b", "a", "a", "b"]
  assert values == {"a": [1.0] * 3, "b": [2.0] * 3}
  s = protocol.summarize([3.0, 1.0, 2.0])
  assert (s["median"], s["min"], s["max"]) == (2.0, 1.0, 3.0)
  assert s["spread_percent"] == pytest.approx(100.0)
  assert protocol.ratio_of_medians([4, 6, 5], [2, 3, 2]) == pytest.approx(2.5)
  assert protocol.ratio_of_medians([1.0], [0.0]) is None
  with pytest.raises(ValueError):
    protocol.run_rounds({"a": lambda: 1.0}, rounds=0, log=None)


def test_machine_parsing_and_atomic_json(tmp_path):
  cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t: fpu\n"
  assert protocol.parse_cpu_model(cpuinfo) == "AMD EPYC 9B14"
  assert protocol.parse_mem_total_gib("MemTotal:       24641536 kB\n") == (
      pytest.approx(23.5, abs=0.01))
  path = str(tmp_path / "out" / "bench.json")
  protocol.write_json_atomic(path, {"ratio": 1.5})
  with open(path) as f:
    assert json.load(f) == {"ratio": 1.5}
  assert os.listdir(tmp_path / "out") == ["bench.json"]
