"""netsim.timing: stages collected only inside a collection, nested collections apart."""

from __future__ import annotations

import time

from netsim.timing import STAGES, StageTimes, collecting, stage


def test_stage_outside_a_collection_does_nothing():
    with stage("truth"):
        pass  # no error, nothing recorded anywhere


def test_stages_add_up_and_nested_collections_are_separate():
    with collecting() as outer:
        with stage("kriging"):
            time.sleep(0.02)
        with collecting() as inner:
            with stage("kriging"):
                time.sleep(0.01)
        with stage("kriging"):
            time.sleep(0.01)
    assert set(outer.seconds) == set(STAGES)
    assert 0.03 <= outer.seconds["kriging"] < 0.03 + 0.5  # 20 + 10 ms, not the inner 10
    assert 0.01 <= inner.seconds["kriging"] < 0.5
    assert outer.seconds["truth"] == 0.0


def test_times_are_recorded_when_the_block_raises():
    with collecting() as times:
        try:
            with stage("metrics"):
                time.sleep(0.01)
                raise ValueError("boom")
        except ValueError:
            pass
    assert times.seconds["metrics"] >= 0.01


def test_add_and_round():
    times = StageTimes()
    times.add({"truth": 1.23456, "outputs": 2.0})
    times.add({"truth": 1.0})
    assert times.rounded(2)["truth"] == 2.23 and times.rounded()["outputs"] == 2.0
