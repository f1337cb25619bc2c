"""The exploy file format: graph names and metadata keys shared by exporter and runtime.

Nothing here imports torch or rclpy: a robot reads these files with onnx + numpy only.
"""

from exploy.format.errors import PolicyFormatError
from exploy.format.graph import GraphSignature, graph_signature
from exploy.format.metadata import (
    ComponentKind,
    ComponentSpec,
    GroupSpec,
    PolicyMetadata,
    load_model,
    parse_metadata,
    read_metadata,
)

__all__ = [
    "ComponentKind",
    "ComponentSpec",
    "GraphSignature",
    "GroupSpec",
    "PolicyFormatError",
    "PolicyMetadata",
    "graph_signature",
    "load_model",
    "parse_metadata",
    "read_metadata",
]
