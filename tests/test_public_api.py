"""The public API is a reviewed list: adding or removing a name must change this test."""

from __future__ import annotations

import pytest

import linkwell
from linkwell import analysis, errors


def test_all_names_exist() -> None:
    for name in linkwell.__all__:
        assert hasattr(linkwell, name), name


def test_every_error_is_a_linkwell_error_with_an_exit_code() -> None:
    codes = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.LinkwellError)
        codes[name] = cls.exit_code
    assert codes["InternalError"] == 70
    assert codes["LinkwellError"] == 1


def test_error_renders_location_and_hint() -> None:
    exc = errors.ValidationError(
        "value out of range", file="a.csv", row=12, field="simd_decile", hint="use 1-10"
    )
    assert str(exc) == "value out of range [a.csv, row 12, field 'simd_decile']. use 1-10"


def test_the_analysis_names_exist_and_are_listed() -> None:
    for name in analysis.__all__:
        assert getattr(analysis, name) is getattr(analysis, name), name
    assert dir(analysis) == sorted(analysis.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = analysis.nothing  # type: ignore[attr-defined]
