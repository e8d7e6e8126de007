"""Analysis: how much of the ground truth can the feature set reach at all?

On a simulated market the ground truth (``ground_truth.parquet``: each stock's expected
21-day return given its latent state) is known. This script runs the same walk-forward
LightGBM twice on the same folds and rows: once on the usual label (``label_rerating``),
once on an *oracle* target -- the per-date rank of the ground truth itself. The oracle
model's RankIC against the realised label is the most any model on these features could
expect, so ``oracle / truth`` is the feature set's ceiling and ``model / oracle`` is how
much of that ceiling training on noisy returns recovers.

    .venv/bin/python benchmarks/ceiling.py [--data demo/market]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "demo" / "market"))
    args = parser.parse_args()

    import pandas as pd

    from features.transforms import rank
    from market.load import load_market
    from spotlight.config import load_config
    from training import evaluate as ev
    from training.train import evaluation_frame, prepare, run_walk_forward

    cfg = load_config().train
    data = prepare(load_market(args.data), cfg)
    if data.truth is None:
        sys.exit(f"{args.data} has no ground_truth.parquet: the ceiling needs a simulated market")
    _, model, _ = run_walk_forward(data, cfg)
    panel = data.panel.merge(data.truth, on=["date", "symbol"], how="left")
    members = panel["in_universe"].to_numpy()
    oracle_label = pd.Series(float("nan"), index=panel.index)
    oracle_label[members] = rank(panel.loc[members, ["expected_return"]], panel.loc[members, "date"])["expected_return"]
    label = data.panel[cfg.label_column].copy()
    data.panel[cfg.label_column] = oracle_label.where(label.notna())  # same rows, oracle target
    _, oracle, _ = run_walk_forward(data, cfg)
    data.panel[cfg.label_column] = label
    frame = evaluation_frame(data, model.assign(oracle=oracle["score"].to_numpy()), cfg)
    rows = frame.dropna(subset=["expected_return", "label"])
    ic = {name: ev.rank_ic(rows, name).mean() for name in ("score", "oracle", "expected_return")}
    vs_truth = {name: ev.rank_ic(rows, name, "expected_return").mean() for name in ("score", "oracle")}
    print(f"mean monthly RankIC against {cfg.label_column} over {rows['date'].nunique()} test months:")
    print(f"  ground truth                       {ic['expected_return']:+.4f}")
    print(f"  oracle model (trained on truth)    {ic['oracle']:+.4f}  (RankIC with the truth {vs_truth['oracle']:+.3f})")
    print(f"  model (trained on the label)       {ic['score']:+.4f}  (RankIC with the truth {vs_truth['score']:+.3f})")
    print(f"ceiling of the features: oracle / truth = {ic['oracle'] / ic['expected_return']:.2f}; "
          f"model / truth = {ic['score'] / ic['expected_return']:.2f}; model / oracle = {ic['score'] / ic['oracle']:.2f}")


if __name__ == "__main__":
    main()
