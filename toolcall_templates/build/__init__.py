"""The main job: read sources, normalize, deduplicate, and write a Hub-ready dataset folder."""

from .builder import BuildResult, SourceSpec, build_dataset

__all__ = ["BuildResult", "SourceSpec", "build_dataset"]
