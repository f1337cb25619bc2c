"""declare_table: parameters declared with descriptions, ints taken for doubles, wrong types one line."""

from __future__ import annotations

import pytest
import rclpy
from policy_node_rig import unique_domain
from rclpy.parameter import Parameter

from exploy_ros.parameters import SettingsError, declare_table

TABLE = {
    "rate": (2.0, "a double"),
    "count": (3, "an int"),
    "name": ("x", "a string"),
    "flag": (False, "a bool"),
    "gains": ([1.0, 2.0], "doubles"),
}


def _declared(overrides: dict):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=unique_domain())
    node = rclpy.create_node(
        "params", context=context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()]
    )
    try:
        return declare_table(node, TABLE), node.describe_parameters(list(TABLE))
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_ints_are_taken_for_doubles_and_every_parameter_has_its_description() -> None:
    values, descriptors = _declared({"rate": 5, "gains": [3, 4]})
    assert values == {"rate": 5.0, "count": 3, "name": "x", "flag": False, "gains": [3.0, 4.0]}
    assert isinstance(values["rate"], float) and all(isinstance(g, float) for g in values["gains"])
    assert [d.description for d in descriptors] == [text for _, text in TABLE.values()]


@pytest.mark.parametrize(
    ("override", "says"),
    [({"rate": "fast"}, "'rate' must be a number"), ({"count": 2.5}, "'count' must be an integer"),
     ({"flag": 1}, "'flag' must be true or false"), ({"gains": ["a"]}, "'gains' must be a list of numbers"),
     ({"name": 3}, "'name' must be a string")],
)
def test_a_wrong_type_is_one_line_naming_the_parameter(override: dict, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as err:
        _declared(override)
    assert "\n" not in str(err.value)
