"""Ensemble-native models: Nanda et al.'s 1-layer transformer, openai/grok's 2-layer post-LN
transformer and Gromov's 2-layer MLP, every parameter with a leading member axis."""

from .ensemble import Ensemble
from .spec import ModelSpec

__all__ = ["Ensemble", "ModelSpec"]
