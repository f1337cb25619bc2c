"""Map policy components to ROS topics, and convert messages to and from policy tensors.

Pure Python (numpy, yaml): no rclpy and no torch, so mapping files can be checked and bags
converted on any machine. ``exploy_ros.adapters`` builds rclpy messages on top of this.
"""

from exploy.mapping.codec import (
    TopicDecoder,
    TopicEncoder,
    build_message,
    build_rosbags_message,
    joint_indices,
)
from exploy.mapping.config import ComponentOverride, MappingConfig, load_mapping_file, parse_mapping
from exploy.mapping.errors import AdapterError, MappingError
from exploy.mapping.fields import ADAPTERS, AdapterInfo
from exploy.mapping.topic_map import FieldBinding, TopicMap, TopicSpec, build_topic_map

__all__ = [
    "ADAPTERS",
    "AdapterError",
    "AdapterInfo",
    "ComponentOverride",
    "FieldBinding",
    "MappingConfig",
    "MappingError",
    "TopicDecoder",
    "TopicEncoder",
    "TopicMap",
    "TopicSpec",
    "build_message",
    "build_rosbags_message",
    "build_topic_map",
    "joint_indices",
    "load_mapping_file",
    "parse_mapping",
]
