"""Soft-Verified Generation: sample a function, rollout 1, judge + synthetic PR, rollout 2, score."""
