"""The docs pages' generated regions (README's: trainflow.figures.readme)."""

from __future__ import annotations
