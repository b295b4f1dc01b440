"""Cache warming: registered warmers, run in batches, results kept for the dashboard."""

from django_distcache.warming.registry import UnknownWarmer, warmer, warmer_names
from django_distcache.warming.runner import recent_runs, warm

__all__ = ["UnknownWarmer", "recent_runs", "warm", "warmer", "warmer_names"]
