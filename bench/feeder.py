"""Feeder of bench/node_rate.py: publishes every input topic of a policy file at a fixed rate.

Speaks every adapter's message type (JointState, Imu, Twist, Float32MultiArray, ...): the
messages are built from the file's topic map with :mod:`exploy.mapping`'s encoders (values 0.1,
unit quaternions for orientations), so any file can be benchmarked.

Usage: ``python bench/feeder.py --policy FILE --rate HZ --duration S --domain ID --ns /NS``
(the node's namespace; topics are ``<ns>/policy_node/...``). Stops on SIGINT or after ``--duration``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def feed(args: argparse.Namespace) -> int:
    """Feeder process: publish every input topic of the policy at ``args.rate`` Hz, any adapter."""
    import rclpy

    from exploy.format import read_metadata
    from exploy.mapping import build_topic_map
    from exploy.mapping.codec import TopicEncoder
    from exploy_ros.adapters import build_ros_message, message_class

    rclpy.init(domain_id=args.domain)
    node = rclpy.create_node("feeder", namespace=args.ns)
    topic_map = build_topic_map(read_metadata(args.policy))
    prefix = "/" + args.ns.strip("/") + "/policy_node"
    pubs, msgs = [], []
    for spec in topic_map.inputs:
        values = {}
        for bnd in spec.bindings:
            value = np.full(bnd.size, 0.1)
            if bnd.field == "orientation":
                value = np.array([1.0, 0.0, 0.0, 0.0])  # w, x, y, z: a unit quaternion
            values[bnd.component] = value
        msgs.append(build_ros_message(spec.msg_type, TopicEncoder(spec)(values)))
        pubs.append(node.create_publisher(message_class(spec.msg_type), spec.topic.replace("~", prefix, 1), 10))
    period = 1.0 / args.rate
    end = time.monotonic() + args.duration
    deadline = time.monotonic()
    try:
        while time.monotonic() < end and rclpy.ok():
            for pub, msg in zip(pubs, msgs):
                pub.publish(msg)
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        pass
    except RuntimeError:  # rclpy's RCLError once a signal shut the context down
        if rclpy.ok():
            raise
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=pathlib.Path, required=True, help="policy file")
    parser.add_argument("--rate", type=float, required=True, help="publish rate in Hz")
    parser.add_argument("--duration", type=float, required=True, help="seconds to publish")
    parser.add_argument("--domain", type=int, required=True, help="ROS_DOMAIN_ID")
    parser.add_argument("--ns", required=True, help="namespace of the policy node")
    args = parser.parse_args()
    if not args.policy.is_file() or not args.rate > 0:
        print(f"error: need an existing --policy file and --rate > 0 (got {args.policy}, {args.rate})", file=sys.stderr)
        return 2
    return feed(args)


if __name__ == "__main__":
    sys.exit(main())
