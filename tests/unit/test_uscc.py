"""Unified social credit code (GB 32100-2015) validation, check digit included."""

from __future__ import annotations

import pytest

from app.enterprises.schemas import uscc_check_digit, validate_uscc

# Published codes of real registrations (public record), each with a valid check digit.
VALID = ["91110000600037341L", "91350100M000100Y43", "91310000775785552L"]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code):
    assert validate_uscc(code) == code


def test_spaces_dashes_and_lower_case_are_normalised():
    assert validate_uscc(" 9111 0000-6000 3734 1l ") == "91110000600037341L"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("91110000600037341X", "校验位错误"),  # wrong check digit
        ("91110000600037341", "应为18位"),  # too short
        ("911100006000373411L", "应为18位"),  # too long
        ("9111000060003734IL", "格式不正确"),  # I is not in the alphabet
        ("", "应为18位"),
    ],
)
def test_invalid_codes_say_what_is_wrong(code, problem):
    with pytest.raises(ValueError, match=problem):
        validate_uscc(code)


def test_every_single_character_change_is_caught():
    code = VALID[0]
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for position in range(8, 17):
        for replacement in alphabet:
            if replacement == code[position]:
                continue
            mutated = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(ValueError):
                validate_uscc(mutated)


def test_check_digit_completes_a_code():
    assert uscc_check_digit("91110000600037341") == "L"
