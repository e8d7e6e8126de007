"""Point-in-time features over the micro-cap universe (built in the features issue)."""
