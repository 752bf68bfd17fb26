"""The Verdict's phase breakdown: named wall times, summed when a phase is entered twice, kept when it raises."""

import time

import pytest

from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind


def test_phases_add_up_and_survive_errors():
    verdict = Verdict("abs", VerdictKind.CORRECT)
    with verdict.phase("build"):
        time.sleep(0.02)
    with verdict.phase("verify"):
        time.sleep(0.01)
    with pytest.raises(RuntimeError), verdict.phase("build"):
        time.sleep(0.02)
        raise RuntimeError("a failing phase still counts")
    assert list(verdict.phases) == ["build", "verify"]  # the order they were first entered
    assert verdict.phases["build"] >= 0.04 and 0.01 <= verdict.phases["verify"] < 0.04
    assert verdict.to_dict()["phases"] == verdict.phases
