import io
import re

import pytest

from pipelines.commands.stage_clock import StageClock, format_seconds


def test_each_stage_is_announced_numbered_and_timed_in_order():
    out = io.StringIO()
    clock = StageClock(["scrape", "align", "train"], out=out)
    with clock.stage("scrape"):
        print("  a stage's own line", file=out)
    with clock.stage("align"):
        pass
    lines = [line for line in out.getvalue().splitlines() if line]
    assert lines[0] == "[1/3] scrape ..."
    assert lines[1] == "  a stage's own line"
    assert re.fullmatch(r"\[1/3\] scrape done in \d+ s", lines[2])
    assert lines[3] == "[2/3] align ..."
    assert re.fullmatch(r"\[2/3\] align done in \d+ s", lines[4])
    # only the stages that ran, in the order given, and their sum
    assert re.fullmatch(r"scrape \d+ s, align \d+ s; total \d+ s", clock.summary())
    assert set(clock.seconds) == {"scrape", "align"}


def test_a_failing_stage_says_so_and_the_error_goes_on():
    out = io.StringIO()
    clock = StageClock(["evaluate"], out=out)
    with pytest.raises(RuntimeError, match="boom"), clock.stage("evaluate"):
        raise RuntimeError("boom")
    assert re.search(r"\[1/1\] evaluate failed after \d+ s", out.getvalue())
    assert clock.seconds == {}


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="'predict' is not one of"), StageClock(["train"]).stage("predict"):
        pass


@pytest.mark.parametrize("seconds, text", [
    (0.4, "0 s"), (59.4, "59 s"), (59.6, "1 min 00 s"), (60, "1 min 00 s"), (754.6, "12 min 35 s")])
def test_times_read_in_seconds_then_minutes(seconds, text):
    assert format_seconds(seconds) == text
