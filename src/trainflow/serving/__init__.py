"""Serving: the predictor shared by evaluation and the BentoML service, and bundle building."""
