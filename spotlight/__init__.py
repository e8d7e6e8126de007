"""Spotlight: the command-line entry point (``spotlight``) over the market, features, training and serving packages."""
