"""trainflow: raw tabular data to a served model, reproducibly (DVC + Lightning + BentoML)."""

__version__ = "0.1.0"
