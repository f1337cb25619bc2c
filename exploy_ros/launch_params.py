"""The parameter list ``launch/policy.launch.py`` gives the policy node, without launch or rclpy.

``launch`` / ``launch_ros`` have no wheel, so the logic lives here and is tested on its own. The
rule: the params file comes first, and a launch argument is added after it *only when it was
given* (non-empty). launch_ros applies the entries in order, later ones winning, so an argument
left out keeps the params file's value instead of overriding it with a launch default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exploy.errors import ExployError

BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
"""How a launch argument spells a boolean (case-insensitive)."""


class LaunchArgumentError(ExployError):
    """A launch argument of the policy node has a value the node cannot take."""


def node_parameters(*, params_file: str, given: Mapping[str, str]) -> list[str | dict[str, Any]]:
    """The ``parameters`` list of the policy node's launch description.

    Args:
        params_file: Path of the node's YAML params file (empty: none).
        given: Launch argument values by parameter name (``policy_path``, ``mapping_file``,
            ``use_sim_time``, ...), as strings; an empty string means "not given".

    Returns:
        ``[params_file, {name: value, ...}]``: only the given arguments in the dict (the dict is
        left out when none was given); ``use_sim_time`` as a bool.

    Raises:
        LaunchArgumentError: for a ``use_sim_time`` that is not a boolean word.
    """
    parameters: list[str | dict[str, Any]] = [params_file] if params_file else []
    overrides: dict[str, Any] = {}
    for name, raw in given.items():
        value = raw.strip()
        if not value:
            continue
        if name == "use_sim_time":
            word = value.lower()
            if word not in BOOL_WORDS:
                raise LaunchArgumentError(
                    f"Launch argument use_sim_time:={value[:40]!r} is not a boolean: use true or false"
                )
            overrides[name] = BOOL_WORDS[word]
        else:
            overrides[name] = value
    if overrides:
        parameters.append(overrides)
    return parameters
