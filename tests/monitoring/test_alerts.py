"""The alert rule: a run of weak realised months, a weak mean, drift over the limit, a crowded
segment."""

from __future__ import annotations

import pandas as pd

from monitoring.alerts import MonitorRule, alert

RULE = MonitorRule(rank_ic_floor=0.0, months=3, psi_limit=0.25)
CALM = pd.DataFrame({"feature": ["a", "b"], "psi": [0.05, 0.01]})


def realised(*ics: float) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range("2024-01-31", periods=len(ics), freq="ME"), "rank_ic": ics})


def test_a_calm_model_raises_nothing() -> None:
    assert alert(realised(0.05, -0.02, 0.03), CALM, "normal", RULE) == ("ok", [])


def test_three_weak_months_in_a_row_raise_an_alert_naming_them() -> None:
    state, reasons = alert(realised(0.08, -0.01, -0.04, -0.02), CALM, "normal", RULE)
    assert state == "alert" and "last 3 served dates" in reasons[0] and "2024-04-30 -0.020" in reasons[0]
    assert alert(realised(-0.01, -0.04), CALM, "normal", RULE)[0] == "ok"  # too few months to judge


def test_a_signal_gone_quiet_raises_an_alert_on_its_mean_even_with_lucky_months() -> None:
    quiet = realised(0.06, -0.05, 0.04, -0.03, 0.05, -0.04)  # mean +0.005, never three bad months in a row
    state, reasons = alert(quiet, CALM, "normal", RULE)
    assert state == "alert" and reasons == ["mean realised RankIC +0.005 over the last 6 served dates "
                                            "(2024-01-31..2024-06-30) is below +0.02"]
    assert alert(realised(0.09, -0.02, 0.06, 0.01, 0.08, 0.03), CALM, "normal", RULE)[0] == "ok"  # mean +0.042
    assert alert(quiet.tail(5), CALM, "normal", RULE)[0] == "ok"  # five months: too few to judge the mean


def test_drift_no_larger_than_the_training_months_own_is_no_alert() -> None:
    table = pd.DataFrame({"feature": ["ties", "new"], "psi": [0.9, 0.4], "psi_training": [1.3, 0.1]})
    state, reasons = alert(realised(), table, "normal", RULE)
    assert reasons == ["model-input drift above PSI 0.25 and past every training month: new 0.40 (training "
                       "months up to 0.10)"]


def test_drift_and_crowding_are_reasons_too() -> None:
    drifted = pd.DataFrame({"feature": ["x", "y", "z", "w"], "psi": [0.9, 0.5, 0.3, 0.1]})
    state, reasons = alert(realised(), drifted, "crowded", RULE)
    assert state == "alert" and reasons == ["model-input drift above PSI 0.25 and past every training month: "
                                            "x 0.90, y 0.50, z 0.30",
                                            "the micro-cap segment is crowded on the latest served date"]
