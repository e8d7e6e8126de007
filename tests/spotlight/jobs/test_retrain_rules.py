"""The retrain job's rules, without MLflow: what to repair, when there is nothing to do, the gate."""

from __future__ import annotations

import pytest

from spotlight.jobs.retrain import Champion, Served, State, decide, gate, live_gate

RULE = {"window": 252, "min_periods": 120, "high": 0.9, "elevated": 0.8, "rich": 0.5}
CHAMP = Champion(version="3", run_id="r3", data_hash="h1", data_end="2024-11-29", config_hash="c1")
SERVED = Served(version="3", snapshot_end="2024-11-29", crowding_rule=RULE)


def state(**changes) -> State:
    base = dict(data_hash="h2", data_end="2024-12-31", config_hash="c1", crowding_rule=RULE, champion=CHAMP,
                served=SERVED, decided=None)
    return State(**(base | changes))


def test_the_first_run_trains() -> None:
    plan = decide(state(champion=None, served=None))
    assert (plan.repair, plan.verdict) == (None, "train")


def test_new_data_trains_and_nothing_is_repaired() -> None:
    assert (decide(state()).repair, decide(state()).verdict) == (None, "train")


def test_the_champions_data_and_settings_are_up_to_date() -> None:
    plan = decide(state(data_hash="h1", data_end="2024-11-29"))
    assert plan.verdict == "up_to_date" and "version 3" in plan.reason


@pytest.mark.parametrize("changes", [dict(config_hash="c2"), dict(data_hash="h9", data_end="2024-12-02"),
                                     dict(config_hash="c2", data_hash="h9", data_end="2024-11-30")])
def test_other_settings_or_a_new_months_data_train_again(changes: dict) -> None:
    assert decide(state(**(dict(data_hash="h1", data_end="2024-11-29") | changes))).verdict == "train"


def test_days_added_inside_the_champions_month_do_not_retrain() -> None:
    champ = Champion(version="3", run_id="r3", data_hash="h1", data_end="2024-11-15", config_hash="c1")
    plan = decide(state(champion=champ, data_hash="h9", data_end="2024-11-29"))
    assert plan.verdict == "same_month" and "2024-11" in plan.reason and "spotlight refresh" in plan.reason


def test_older_data_than_the_champions_is_not_trained_on() -> None:
    plan = decide(state(data_end="2024-10-31"))
    assert plan.verdict == "older_data" and "2024-11-29" in plan.reason


def test_a_final_decision_on_this_data_and_settings_stands() -> None:
    plan = decide(state(decided=("r7", "rolled_back")))
    assert plan.verdict == "already_decided" and "r7" in plan.reason and "rolled_back" in plan.reason


@pytest.mark.parametrize("served", [None, Served(version="2", snapshot_end="2024-11-29", crowding_rule=RULE)])
def test_a_champion_that_is_not_served_is_published(served) -> None:
    assert decide(state(served=served, data_hash="h1", data_end="2024-11-29")).repair == "publish"


def test_another_crowding_rule_republishes_only_on_data_not_older_than_served() -> None:
    other = RULE | {"high": 0.95}
    assert decide(state(crowding_rule=other)).repair == "republish"
    assert decide(state(served=Served("3", "2024-11-29", None))).repair == "republish"  # exported before the flag
    assert decide(state(crowding_rule=other, data_end="2024-11-28")).repair is None
    later = Served(version="3", snapshot_end="2025-01-31", crowding_rule=RULE)
    assert decide(state(crowding_rule=other, served=later)).repair is None


def test_the_gate() -> None:
    assert gate(0.05, None, 0.01)[0] and gate(0.05, float("nan"), 0.01)[0]
    assert gate(0.045, 0.05, 0.01)[0] and not gate(0.035, 0.05, 0.01)[0]


def test_the_gate_says_what_happened() -> None:
    assert gate(0.0963, 0.0883, 0.01)[1] == "candidate +0.0963 beats champion +0.0883 by 0.0080"
    assert gate(0.045, 0.05, 0.01)[1] == ("candidate +0.0450 trails champion +0.0500 by 0.0050, within the "
                                          "tolerance 0.01")
    assert gate(0.035, 0.05, 0.01)[1] == ("candidate +0.0350 trails champion +0.0500 by 0.0150, more than the "
                                          "tolerance 0.01")


def test_the_live_evidence_replaces_a_champion_failing_live_and_is_always_said() -> None:
    kept, why = gate(0.02, 0.05, 0.01)
    assert not kept
    promote, said = live_gate(kept, why, -0.03, 0.0, 3)
    assert promote and "realised RankIC over its last 3 served dates -0.0300" in said and "live evidence" in said
    promote, said = live_gate(kept, why, 0.04, 0.0, 3)  # a champion that holds up live stays
    assert not promote and "+0.0400" in said and "live evidence" not in said
    assert live_gate(kept, why, None, 0.0, 3) == (False, f"{why}; no realised live figures for the champion yet")
    assert live_gate(True, "beats", -0.5, 0.0, 3)[0]  # a promotion stands whatever the live figure


def test_a_kept_champion_or_a_rollback_holds_for_the_rest_of_its_month(tmp_path) -> None:
    """An earlier final decision is found on the same data, and (kept champion, rollback) on
    data that ended earlier in the same month; not next month's, not another config's, and a
    parity failure only on its own data (a real MLflow store)."""
    from mlflow.tracking import MlflowClient

    from spotlight.jobs.retrain import _decided
    from tracking import artifacts as names

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("spotlight")

    def run(decision: str, data_hash: str, end: str, config: str = "c1") -> str:
        made = client.create_run(experiment, tags={names.JOB: names.JOB_RETRAIN, names.CONFIG_HASH: config,
                                                   names.DATA_HASH: data_hash, names.DATA_END: end,
                                                   names.RETRAIN_DECISION: decision})
        return made.info.run_id

    kept = run("kept_champion", "h-dec01", "2024-12-02")
    failed = run("parity_failed", "h-nov", "2024-11-15")
    run("promoted", "h-oct", "2024-10-31")
    assert _decided(client, "spotlight", "h-dec01", "2024-12-02", "c1") == (kept, "kept_champion")
    assert _decided(client, "spotlight", "h-dec09", "2024-12-09", "c1") == (kept, "kept_champion")  # same month
    assert _decided(client, "spotlight", "h-jan", "2025-01-02", "c1") is None  # next month trains
    assert _decided(client, "spotlight", "h-dec09", "2024-12-09", "c2") is None  # another config trains
    assert _decided(client, "spotlight", "h-nov", "2024-11-15", "c1") == (failed, "parity_failed")
    assert _decided(client, "spotlight", "h-nov2", "2024-11-18", "c1") is None  # a parity failure: its data only
    assert "until next month's data" in decide(state(decided=(kept, "kept_champion"))).reason
