"""Evaluation: test-split metrics, plot data and inference speed."""
