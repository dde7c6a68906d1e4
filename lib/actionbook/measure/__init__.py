"""Counting and measuring: parameters, FLOPs under named conventions, speed and memory, the environment."""

from actionbook.measure.flops import CONVENTIONS, count_flops, count_params, model_complexity

__all__ = ["CONVENTIONS", "count_flops", "count_params", "model_complexity"]
