"""Explanation methods, the registry and the shared-pass engine."""

from . import spatial, temporal  # noqa: F401  (registers the methods)
from .base import DEFAULT_METHODS, REGISTRY, Explanation, ExplanationSet, Method, register
from .cache import ExplanationCache
from .engine import explain

__all__ = ["DEFAULT_METHODS", "REGISTRY", "Explanation", "ExplanationCache", "ExplanationSet",
           "Method", "explain", "register"]
