"""Parsing what models really write into slot files."""

import pytest

from mkb_tui.engine.answer import AnswerFormatError, parse_answer
from mkb_tui.engine.slots import CANDIDATE_CPP, CANDIDATE_HPP, Slot

SLOT = Slot("abs", "cpu", "UnaryOp", "ABS", (CANDIDATE_CPP,), (CANDIDATE_HPP,))
BODY = "#include \"backend/cpu/CPUBackend.hpp\"\nnamespace MNN {}\n"


@pytest.mark.parametrize(
    "answer",
    [
        f"Here is the kernel.\n\n```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{BODY}```\nIt uses SSE.",
        f"```\nMKBCandidate.cpp\n{BODY}```",
        f"```c++\n// file: MKBCandidate.cpp\n{BODY}```",
        f"```cpp MKBCandidate.cpp\n{BODY}```",
        f"~~~cpp\n/* MKBCandidate.cpp */\n{BODY}~~~",
    ],
)
def test_accepted_forms(answer):
    candidate = parse_answer(answer, SLOT)
    assert candidate.files == {CANDIDATE_CPP: BODY}
    assert candidate.answer == answer


def test_header_and_unnamed_blocks():
    answer = f"```sh\nmake\n```\n```hpp\n// MKBCandidate.hpp\n#pragma once\n```\n```cpp\n// MKBCandidate.cpp\n{BODY}```"
    files = parse_answer(answer, SLOT).files
    assert files[CANDIDATE_HPP] == "#pragma once\n" and files[CANDIDATE_CPP] == BODY


@pytest.mark.parametrize(
    "answer, message",
    [
        ("", "empty"),
        ("I cannot help with that.", "does not provide source/backend/cpu/MKBCandidate.cpp"),
        (f"```cpp\n// CPUUnary.cpp\n{BODY}```", "it named CPUUnary.cpp, which are not slot files"),
        (f"```cpp\n// MKBCandidate.cpp\n{BODY}```\n```cpp\n// MKBCandidate.cpp\n{BODY}```", "names source/backend/cpu/MKBCandidate.cpp twice"),
        (f"```cpp\n// MKBCandidate.cpp\n{BODY}", "cut off"),
    ],
)
def test_classified_failures(answer, message):
    with pytest.raises(AnswerFormatError, match=message):
        parse_answer(answer, SLOT)


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_any_line_ending_parses_like_lf(ending):
    """Issue 18: an honest answer with CRLF line endings was a format_error; it parses as the LF one does."""
    answer = f"Here is the kernel.\n\n```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{BODY}```\nIt uses SSE."
    crlf = answer.replace("\n", ending)
    candidate = parse_answer(crlf, SLOT)
    assert candidate.files == parse_answer(answer, SLOT).files == {CANDIDATE_CPP: BODY}
    assert candidate.answer == crlf
