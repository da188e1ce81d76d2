"""Metrics as pure functions of feature arrays (float64 where it matters).

No network and no images here: feature extraction is `gan.features`.

  fid.frechet_distance(mu1, sigma1, mu2, sigma2)
  fid.frechet_distance_from_features(f1, f2)
  kid.kernel_inception_distance(f1, f2) -> KIDResult(mean, std, ...)
  inception_score.inception_score(logits) -> InceptionScoreResult(mean, std)
  statistics.compute_statistics / save_statistics / load_statistics
"""
from gan.metrics import fid
from gan.metrics import inception_score
from gan.metrics import kid
from gan.metrics import statistics
