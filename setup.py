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
        # The MuJoCo robot and sim-to-sim closed loop (exploy.sim, mujoco_sim_node).
        "sim": ["mujoco==3.11.0"],
        "test": ["pytest"],
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
