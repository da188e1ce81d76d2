"""Every registered metric spec against the protocol of `gan.evaluation.spec`:
its options are `MetricOptions` fields, `gan.evaluate` flags and
`config.eval` fields with the same defaults; computed on small real inputs,
its results carry its scalars, its summary line shows their values, and its
picture (when it has one) is a PNG."""
import re

from absl import flags
import numpy as np
import pytest

from configs import default
from gan import evaluate  # pylint: disable=unused-import  (defines the flags)
from gan.errors import UserError
from gan.evaluation import registry
from gan.evaluation import spec

SMALL = dict(pr_k=2, dc_k=3, prd_clusters=4, prd_runs=2, lid_k=4,
             lid_batch_size=8, gs_runs=3, gs_landmarks=6, ms_ssim_pairs=6,
             kid_subset_size=10, kid_subsets=5, is_splits=2)


def _inputs(warnings):
  rng = np.random.default_rng(0)
  return spec.Inputs(
      registry.MetricOptions(**SMALL),
      features_a=rng.normal(size=(24, 8)), features_b=rng.normal(size=(30, 8)),
      logits={"a": rng.normal(size=(24, 1008)),
              "b": rng.normal(size=(30, 1008))},
      images_a=rng.integers(0, 256, (24, 48, 48, 1), dtype=np.uint8),
      images_b=rng.integers(0, 256, (30, 48, 48, 1), dtype=np.uint8),
      names={"a": "generated/", "b": "real/"}, warn=warnings.append)


def test_the_catalogue():
  assert registry.METRICS == ("fid", "kid", "is", "prdc", "prd", "lid",
                              "geometry_score", "ms_ssim", "memorization")
  assert registry.DEFAULT_METRICS == ("fid", "kid", "is")
  assert len({o.name for o in registry.OPTIONS}) == len(registry.OPTIONS)


@pytest.mark.parametrize("metric", registry.METRICS)
def test_options_are_flags_config_fields_and_dataclass_fields(metric):
  s = registry.get(metric)
  ev = default.get_config().eval
  defaults = registry.MetricOptions()
  for o in s.options:
    assert getattr(defaults, o.name) == o.default
    assert flags.FLAGS[o.flag_name].default == o.default
    want = o.default if o.config_default is None else o.config_default
    assert ev[o.name] == want, o.name
  assert flags.FLAGS["metric_seed"].default == defaults.seed == 0
  # The config's values become the options of the evaluation in training.
  ev.pr_k = 7
  assert registry.options_from_config(ev).pr_k == 7


@pytest.mark.parametrize("metric", registry.METRICS)
def test_compute_scalars_summary_and_picture(metric, tmp_path):
  s = registry.get(metric)
  warnings = []
  results = s.compute(_inputs(warnings))
  assert results and {r.name for r in results} <= set(s.result_names)
  metrics = {}
  for r in results:
    assert r.values, r.name
    if r.draw:
      path = str(tmp_path / f"{r.name}.png")
      r.draw(path)
      with open(path, "rb") as f:
        assert f.read(4) == b"\x89PNG"
    metrics[r.name] = r.values
  scalars = registry.scalars({"metrics": metrics})
  for r in results:
    for key, scalar in s.scalars.items():
      name = "eval/" + scalar.format(name=r.name)
      assert scalars[name] == pytest.approx(float(r.values[key]))
      # The summary line shows the headline value (to 4 decimals or more).
      line = registry.summary_line(r.name, r.values)
      shown = [float(x) for x in re.findall(r"-?\d+\.\d+", line)]
      assert any(abs(x - float(r.values[key])) <= 5e-5 for x in shown), (
          line, key)


def test_counts_name_the_metric_and_its_flag():
  options = registry.MetricOptions(**SMALL)
  for metric in ("prdc", "lid", "geometry_score", "ms_ssim", "memorization"):
    with pytest.raises(UserError, match=f"^{metric} needs at least"):
      registry.check_sample_counts([metric], options, 1, 1, "gen/", "real/")
  with pytest.raises(UserError, match="smaller --prd_clusters"):
    registry.check_sample_counts(["prd"], options, 1, 2)
  registry.check_sample_counts(list(registry.METRICS), options, 30, 30)
  with pytest.raises(UserError, match="lid needs --lid_k >= 2"):
    registry.check_sample_counts(["fid"], registry.MetricOptions(lid_k=1),
                                 30, 30)


def test_a_metric_function_error_names_the_metric_and_flags():
  inputs = _inputs([])
  inputs.features_b = inputs.features_b[:, :4]
  with pytest.raises(UserError, match=r"^prdc: .*\(--pr_k, --dc_k\)$"):
    with registry.get("prdc").errors():
      registry.get("prdc").compute(inputs)
