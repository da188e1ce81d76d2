"""One `MetricSpec` per metric (`gan.evaluation.spec`), one file each."""
