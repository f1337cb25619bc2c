"""exploy: export an RL environment and its policy into one self-contained ONNX file.

Layers (each imports only the ones before it):

- ``exploy.exporter.core`` — offline exporter (torch).
- ``exploy.format`` — the file format: metadata keys, component names (no torch).
- ``exploy.runtime`` — run a policy file with onnxruntime (no torch, no rclpy).
- ``exploy_ros`` — ROS 2 adapters: nodes, topics, timers, bags.
"""

__version__ = "0.1.0"
