"""exploy: export an RL environment and its policy to one ONNX file, deploy it on ROS 2."""

from glob import glob

from setuptools import find_packages, setup

package_name = "exploy_ros"
version = "0.1.0"

setup(
    name=package_name,
    version=version,
    packages=find_packages(exclude=["test", "test.*", "bench"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    # The runtime (robot) needs no torch: onnxruntime + numpy run the exported file, PyYAML
    # reads the node's parameter and mapping files.
    install_requires=[
        "setuptools",
        "numpy",
        "onnx",
        "onnxruntime",
        "PyYAML",
    ],
    extras_require={
        # The offline exporter traces torch code into ONNX.
        "export": ["torch", "onnxscript", "tqdm"],
        # Recording and replaying rosbag2 files, with plots.
        "replay": ["rosbags", "matplotlib", "tqdm"],
        # Export mjlab tasks directly (exploy.frameworks.mjlab, `exploy export --mjlab TASK`).
        # mjlab 1.6.0 pins mujoco~=3.11.0; pin torch to a CPU build yourself where no GPU is.
        "mjlab": [
            "torch",
            "onnxscript",
            "tqdm",
            "mjlab==1.6.0",
            "mujoco==3.11.0",
            "mujoco-warp==3.11.0",
            "warp-lang",
            "rsl-rl-lib",
        ],
        # The MuJoCo robot and sim-to-sim closed loop (exploy.sim, mujoco_sim_node).
        "sim": ["mujoco==3.11.0"],
        "test": ["pytest", "mcap"],
        # `make lint`: the linter and the type checker (config in pyproject.toml).
        "lint": ["ruff", "mypy"],
        # ROS 2 Kilted from PyPI wheels, for policy_node and replay_node without a ROS install
        # (docs/install.md). On a robot ROS comes from apt instead (package.xml).
        "ros": [
            "ros-rclpy[fastrtps]>=9.1.2,<10",
            "ros-rcl-interfaces~=2.3.0",
            "ros-std-msgs~=5.5.1",
            "ros-sensor-msgs~=5.5.1",
            "ros-geometry-msgs~=5.5.1",
            "ros-std-srvs~=5.5.1",
            "ros-diagnostic-msgs~=5.5.1",
            "ros-lifecycle-msgs~=2.3.0",
            "ros-rosgraph-msgs~=2.3.0",
            "ros-nav-msgs~=5.5.1",
            "ros-trajectory-msgs~=5.5.1",
        ],
        # The same for ROS 2 Jazzy (LTS; rclpy 7.x). Not in the same venv as the "ros" extra.
        "ros-jazzy": [
            "ros-jazzy-rclpy[fastrtps]>=7.1.6,<8",
            "ros-jazzy-rcl-interfaces>=2.0.3",
            "ros-jazzy-std-msgs>=5.3.6",
            "ros-jazzy-sensor-msgs>=5.3.6",
            "ros-jazzy-geometry-msgs>=5.3.6",
            "ros-jazzy-std-srvs>=5.3.6",
            "ros-jazzy-diagnostic-msgs>=5.3.6",
            "ros-jazzy-lifecycle-msgs>=2.0.3",
            "ros-jazzy-rosgraph-msgs>=2.0.3",
            "ros-jazzy-nav-msgs>=5.3.6",
            "ros-jazzy-trajectory-msgs>=5.3.6",
        ],
    },
    python_requires=">=3.10",
    zip_safe=True,
    maintainer="exploy developers",
    maintainer_email="exploy@example.com",
    description="Export an RL environment and policy to one ONNX file and run it on ROS 2.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "exploy = exploy.cli.main:main",
            "policy_node = exploy_ros.policy_node:main",
            "replay_node = exploy_ros.replay_node:main",
            "mujoco_sim_node = exploy_ros.mujoco_sim_node:main",
        ],
    },
)
