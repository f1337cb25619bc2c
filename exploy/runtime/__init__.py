"""Run exploy policy files with onnxruntime + numpy (no torch, no rclpy)."""
