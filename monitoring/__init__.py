"""Monitoring the live model: how served rankings did once their horizon passed, how far the
live features drifted from the champion's training data, and the alert state.

- :mod:`monitoring.realised`: realised RankIC and top-N excess return of each served date.
- :mod:`monitoring.drift`: the population stability index of each feature.
- :mod:`monitoring.alerts`: the alert rule and its reasons.

The job that runs them and writes the report is :mod:`spotlight.jobs.monitor`; the service
answers ``GET /monitor`` from that report.
"""
