"""Start-up polls slow down in proportion when many servers start at once (hub_config/hpchub/start_load.py)."""

from __future__ import annotations

import pytest
from hpchub.start_load import StartLoad


def test_a_few_starts_keep_the_base_interval():
    load = StartLoad(step=5)
    with load, load, load:
        assert load.interval(1.0) == 1.0


def test_fifty_starts_poll_ten_times_less_often():
    load = StartLoad(step=5)
    for _ in range(50):
        load.__enter__()
    assert load.interval(1.0) == pytest.approx(10.0)
    assert load.interval(0.05) == pytest.approx(0.5)


def test_a_finished_start_is_no_longer_counted_even_when_it_failed():
    load = StartLoad(step=1)
    with pytest.raises(RuntimeError), load:
        assert load.starting == 1
        raise RuntimeError("the job ended")
    assert load.starting == 0 and load.interval(2.0) == 2.0
