"""Model: preprocessor (JSON), plain-torch networks, Lightning wrappers and training."""
