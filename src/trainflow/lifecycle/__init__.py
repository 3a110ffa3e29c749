"""The model's life after its first deployment: feedback, retraining, canary and A/B
between versions, batch scoring, retirement."""
