"""The alert rule: when the live model needs a person's attention, and why.

An alert is raised when any of these holds (each a reason):

- the realised RankIC of each of the last ``months`` matured served dates is below
  ``rank_ic_floor`` (a run of bad months);
- the mean realised RankIC of the last ``mean_months`` matured served dates is below
  ``mean_floor`` (a signal gone quiet: one month's RankIC over 400 stocks is noise of about
  +-0.05, so a dead model passes the first rule by luck for a long time; a mean over six
  months halves the noise again);
- a feature's PSI as the model sees it (:mod:`monitoring.drift`: ranked within its date, so
  not the market's level) exceeds ``psi_limit`` and the most any training month moved from
  the others (``psi_training``) (the three worst are named);
- the micro-cap segment is ``crowded`` on the latest served date.
"""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from training.config import Section


class MonitorRule(Section):
    """``[monitor]``: the live model's alert thresholds and the top-N it is judged on."""

    rank_ic_floor: float = Field(0.0, ge=-1, le=1, description="alert when the realised RankIC stays below this")
    months: int = Field(3, ge=1, description="... for this many consecutive matured served dates")
    mean_months: int = Field(6, ge=1, description="... or when the mean over this many matured served dates")
    mean_floor: float = Field(0.02, ge=-1, le=1, description="... is below this")
    psi_limit: float = Field(0.25, gt=0, description="alert when a feature's model-input PSI against "
                                                           "training exceeds this")
    top_n: int = Field(50, ge=1, description="the top-N whose realised excess return is reported")


def alert(realised: pd.DataFrame, drift: pd.DataFrame, regime: str | None, rule: MonitorRule) -> tuple[str, list[str]]:
    """``("alert", reasons)`` or ``("ok", [])`` (see the module docstring)."""
    reasons = []
    recent = realised.sort_values("date").tail(rule.months)
    if len(recent) == rule.months and (recent["rank_ic"] < rule.rank_ic_floor).all():
        figures = ", ".join(f"{d:%Y-%m-%d} {v:+.3f}" for d, v in zip(recent["date"], recent["rank_ic"], strict=True))
        reasons.append(f"realised RankIC below {rule.rank_ic_floor:+.2f} on each of the last {rule.months} served "
                       f"dates ({figures})")
    last = realised.sort_values("date").tail(rule.mean_months)
    if len(last) == rule.mean_months and last["rank_ic"].mean() < rule.mean_floor:
        reasons.append(f"mean realised RankIC {last['rank_ic'].mean():+.3f} over the last {rule.mean_months} served "
                       f"dates ({last['date'].iloc[0]:%Y-%m-%d}..{last['date'].iloc[-1]:%Y-%m-%d}) is below "
                       f"{rule.mean_floor:+.2f}")
    beyond = drift["psi"] > rule.psi_limit
    if "psi_training" in drift:
        beyond &= ~(drift["psi"] <= drift["psi_training"])  # an unknown training spread does not hold it back
    worst = drift[beyond].head(3)
    if len(worst):
        named = ", ".join(f"{f} {v:.2f}" + (f" (training months up to {t:.2f})" if t == t else "")
                          for f, v, t in zip(worst["feature"], worst["psi"],
                                             worst.get("psi_training", pd.Series(float("nan"), worst.index)),
                                             strict=True))
        reasons.append(f"model-input drift above PSI {rule.psi_limit} and past every training month: {named}")
    if regime == "crowded":
        reasons.append("the micro-cap segment is crowded on the latest served date")
    return ("alert" if reasons else "ok"), reasons
