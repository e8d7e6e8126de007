"""The liquidity-aware backtest of a signal: the daily engine, performance against the
universe's benchmark, capacity, the crowding panel, one HTML report and its MLflow run.

Data flows one way: predictions (date, symbol, score) and a market -> :mod:`backtest.engine`
-> :mod:`backtest.performance` -> :mod:`backtest.report` (figures from :mod:`backtest.plots`)
-> :mod:`backtest.mlflow_run`. Nothing here imports training: a backtest needs only scores.
"""
