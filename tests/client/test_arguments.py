"""The argument checks: one message shape, ints that are not bools, tags that are lists of str."""

from __future__ import annotations

import math

import pytest

from prefect_ibmq.arguments import check_int, check_seconds, check_tags, is_int, tags_update
from prefect_ibmq.exceptions import IBMQJobInvalidStateError, IBMQValueError


def test_a_bool_is_not_an_int():
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    with pytest.raises(IBMQValueError) as caught:
        check_int("shots", True, 1, 10)
    assert caught.value.message == "shots=True is not accepted; give an int from 1 to 10."
    assert check_int("skip", 0, 0) == 0


@pytest.mark.parametrize("value", [-1, math.nan, True, "5"])
def test_seconds_are_numbers_from_zero(value):
    with pytest.raises(IBMQValueError, match="a number of seconds >= 0 or None"):
        check_seconds("timeout", value)


def test_tags_are_a_list_of_str_and_job_set_tags_cannot_change():
    assert check_tags("job_tags", None) is None
    assert check_tags("job_tags", ["ibmq_jobset_x"]) == ["ibmq_jobset_x"]  # set at submission: allowed
    with pytest.raises(IBMQValueError, match="give a list of str or None"):
        check_tags("job_tags", ("a",))
    with pytest.raises(IBMQJobInvalidStateError, match="mark a job set"):
        check_tags("removal_tags", ["ibmq_jobset_x"], changeable=True)


def test_a_tags_update_needs_at_least_one_list():
    with pytest.raises(ValueError, match="give replacement_tags, additional_tags or removal_tags"):
        tags_update(None, None, None)
    assert tags_update(None, ["a"], None).additional_tags == ["a"]
