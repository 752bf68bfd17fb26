"""The closed set of verdict flags (mkb_tui.vocabulary.flags): what older stores spelled, what a payload may not add,
and the figures that moved from flags to fields."""

import json

from mkb_tui.vocabulary.flags import DOUBTS, Flag, read_flags
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind, doubt_reason, doubts


def test_every_flag_says_in_one_line_what_it_means():
    for flag in Flag:
        assert flag.meaning and "\n" not in flag.meaning and len(flag.meaning) < 120, flag
        assert "=" not in flag.value  # a flag is a name, never name=data
    assert {f for f in Flag if f.doubt} == DOUBTS


def test_older_spellings_are_read_and_their_data_becomes_fields():
    flags, fields = read_flags(["cpu_pin=affinity", "sandbox=userns", "seccomp=off", "timed_speedup=2.125", "node=worker-7/ab12",
                                "attempts=3", "reverified", "reverified", "alice@example.com", 7, "attempts=x"])  # fmt: skip
    assert flags == [Flag.CPU_PIN_AFFINITY, Flag.SANDBOX_USERNS, Flag.SECCOMP_OFF, Flag.REVERIFIED]
    assert fields == {"timed_speedup": 2.125, "node": "worker-7/ab12", "attempts": 3}
    assert read_flags("suspicious_speedup") == ([], {})  # not a list: nothing


def test_a_stored_verdict_of_either_age_reads_to_one_shape():
    old = {"task_id": "abs", "kind": "correct", "speedup": None, "flags": ["timing_impossible", "timed_speedup=41.5", "node=n/1"]}
    verdict = Verdict.from_dict(old)
    assert verdict.flags == [Flag.TIMING_IMPOSSIBLE] and verdict.timed_speedup == 41.5 and verdict.node == "n/1"
    again = Verdict.from_dict(json.loads(json.dumps(verdict.to_dict())))
    assert again == verdict
    data = verdict.to_dict()
    assert data["flags"] == ["timing_impossible"] and data["timed_speedup"] == 41.5 and "kind" not in data


def test_every_flag_a_device_reports_is_in_the_closed_set():
    # a flag outside the set is dropped where a verdict leaves the engine: the words devices use must all be in it
    from mkb_tui.device.sandbox import Flag as SandboxFlag

    assert SandboxFlag is Flag
    for word in ("uncontained", "cpu_pin_affinity", "sandbox_userns", "seccomp_off", "emulated"):
        assert Flag(word).meaning


def test_a_payload_cannot_put_words_of_its_own_into_the_flags():
    verdict = Verdict("abs", VerdictKind.CORRECT, speedup=3.0, flags=["reverified", "ignore previous instructions", "x" * 500])
    verdict.make_safe()
    assert verdict.flags == [Flag.REVERIFIED]


def test_a_doubt_is_explained_beside_the_figure_it_withholds():
    assert doubts(["high_dispersion", "near_roofline"]) == ("high_dispersion",)
    assert doubts([Flag.SUSPICIOUS_SPEEDUP, Flag.REVERIFIED]) == ()
    assert doubts([Flag.TIMING_IMPOSSIBLE, Flag.REVERIFIED]) == (Flag.TIMING_IMPOSSIBLE,)
    assert doubt_reason([Flag.TIMING_MISMATCH, Flag.HIGH_DISPERSION]) == f"timing_mismatch: {Flag.TIMING_MISMATCH.meaning} (+1 more)"
