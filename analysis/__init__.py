"""pingyi analysis: pure functions on the tidy ratings table (numpy, pandas, scipy only).

Start with :func:`analysis.pipeline.analyze` and :class:`analysis.settings.AnalysisSpec`.
"""
from .aggregate import combine_groups
from .leniency import adjust
from .outliers import olympic_trimmed_mean, robust_z
from .pipeline import AnalysisResult, analyze
from .ratings import RatingsError, load_ratings, read_ratings
from .reliability import icc, krippendorff_alpha
from .settings import AnalysisSpec, ItemSpec, SheetSpec, SpecError
from .uncertainty import wilson_interval

__all__ = [
    "AnalysisResult", "AnalysisSpec", "ItemSpec", "RatingsError", "SheetSpec", "SpecError",
    "adjust", "analyze", "combine_groups", "icc", "krippendorff_alpha", "load_ratings",
    "olympic_trimmed_mean", "read_ratings", "robust_z", "wilson_interval",
]
