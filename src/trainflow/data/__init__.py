"""Data: sources, the raw contract, cleaning and splitting (pure functions on frames)."""
