"""Shared helpers of the bag tests: exported tutorial policies, recordings, and bag surgery.

Bags are rewritten with ``rosbags`` directly (not through ``exploy.bag``) so the tampering is
independent of the code under test.
"""

from __future__ import annotations

import pathlib
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from tutorial_code import Actor, DataSource, Environment, ExportableEnv
from tutorial_variants import (
    HookedEnvironment,
    HookedExportableEnv,
    HookedTutorialEnvironment,
    add_rnn_actor,
    make_registered,
    register_tutorial_components,
)

from exploy.bag.recorder import record
from exploy.exporter.core.actor import add_actor_memory
from exploy.exporter.core.exporter import export_environment_as_onnx

STORE = get_typestore(Stores.ROS2_KILTED)
NUM_STEPS = 25  # the tutorial environment resets after 10 policy steps: two resets
DECIMATION = 4


@dataclass
class Variant:
    """An exported tutorial policy and how to rebuild its environment for recording."""

    name: str
    policy: pathlib.Path
    actor: torch.nn.Module
    make_env: Callable[[], ExportableEnv]

    def fresh_env(self) -> ExportableEnv:
        env = self.make_env()
        if hasattr(self.actor, "get_state") and self.actor.get_state() is not None:
            self.actor.reset(torch.ones(1, dtype=torch.bool))
            add_actor_memory(env.context_manager(), self.actor.get_state)
        return env

    def record(self, bag: pathlib.Path, **kwargs: Any) -> Any:
        return record(
            self.fresh_env(), self.actor, self.policy, bag, num_steps=kwargs.pop("num_steps", NUM_STEPS), **kwargs
        )


def _tutorial_as_written() -> ExportableEnv:
    env = ExportableEnv(Environment(DataSource()))
    register_tutorial_components(env, processed_as_memory=False)
    return env


def _hooked() -> ExportableEnv:
    return make_registered(HookedEnvironment, HookedExportableEnv)


def _hooked_tutorial() -> ExportableEnv:
    env = HookedExportableEnv(HookedTutorialEnvironment(DataSource()))
    register_tutorial_components(env, processed_as_memory=False)
    return env


_MAKERS: dict[str, Callable[[], ExportableEnv]] = {
    "mlp": make_registered,
    "lstm": make_registered,
    "tutorial": _tutorial_as_written,
    "hooked": _hooked,
    "hooked_tutorial": _hooked_tutorial,
}


def export_variant(name: str, folder: pathlib.Path, *, seed: int = 0, filename: str | None = None) -> Variant:
    """Export a tutorial variant into ``folder``.

    ``mlp`` / ``lstm``: processed actions registered as Memory; ``tutorial``: exactly as written;
    ``hooked``: registered and calling the evaluation hooks; ``hooked_tutorial``: as written, with hooks.
    """
    torch.manual_seed(seed)
    env = _MAKERS[name]()
    actor = add_rnn_actor(env) if name == "lstm" else Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tutorial as written warns about its unregistered state
        path = export_environment_as_onnx(env=env, actor=actor, path=folder, filename=filename or f"{name}.onnx")
    return Variant(name, path, actor, _MAKERS[name])


def read_all(bag: pathlib.Path) -> tuple[dict[str, str], list[tuple[str, int, Any]], dict[str, str] | None]:
    """(topic -> type, [(topic, timestamp, message)], custom_data), read with rosbags only."""
    with Reader(bag) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        msgs = [(c.topic, t, STORE.deserialize_cdr(raw, c.msgtype)) for c, t, raw in reader.messages()]
        custom = reader.storage.metadata.custom
    return types, msgs, custom


def rewrite_bag(
    src: pathlib.Path,
    dst: pathlib.Path,
    transform: Callable[[str, str, int, bytes], tuple[str, str, bytes] | None],
) -> pathlib.Path:
    """Copy ``src`` to ``dst`` (MCAP) passing each message through ``transform``.

    ``transform(topic, msgtype, timestamp, raw)`` returns ``(topic, msgtype, raw)`` to keep the
    (possibly changed) message, or None to drop it.
    """
    if dst.exists():
        shutil.rmtree(dst)
    with Reader(src) as reader, Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns: dict[tuple[str, str], Any] = {}
        for conn, stamp, raw in reader.messages():
            kept = transform(conn.topic, conn.msgtype, stamp, bytes(raw))
            if kept is None:
                continue
            topic, msgtype, data = kept
            if (topic, msgtype) not in conns:
                conns[(topic, msgtype)] = writer.add_connection(topic, msgtype, typestore=STORE)
            writer.write(conns[(topic, msgtype)], stamp, data)
    return dst


def float_array(values: np.ndarray) -> bytes:
    """CDR bytes of a ``std_msgs/msg/Float32MultiArray`` holding ``values``."""
    msg = STORE.types["std_msgs/msg/Float32MultiArray"](
        layout=STORE.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
        data=np.asarray(values, dtype=np.float32).reshape(-1),
    )
    return bytes(STORE.serialize_cdr(msg, "std_msgs/msg/Float32MultiArray"))


def tutorial_trajectory(actor: torch.nn.Module, num_steps: int, *, registered: bool) -> list[dict[str, np.ndarray]]:
    """Per policy step, the tutorial's inputs and output computed from its equations by hand.

    foo/bar/baz start at their initial values and grow by 0.1/0.2/0.3 per sim tick; the episode
    resets after 10 policy steps; obs = [foo + 1, bar + 2 baz, baz, last actions]; the output is
    ``3 a + 2`` (a: the actor's actions). A memoryless actor is assumed for registered=False.
    """
    foo0, bar0, baz0 = np.array([1.0, 2, 3, 4]), np.array([0.5, 0.6]), np.array([-7.0, -8])
    steps = []
    last = np.zeros(2)
    with torch.no_grad():
        for step in range(num_steps):
            k = (step % 10) * DECIMATION
            if step % 10 == 0:
                last = np.zeros(2)
                if hasattr(actor, "reset") and actor.get_state() is not None:
                    actor.reset(torch.ones(1, dtype=torch.bool))
            foo, bar, baz = foo0 + 0.1 * k, bar0 + 0.2 * k, baz0 + 0.3 * k
            obs = np.concatenate([foo + 1.0, bar + 2.0 * baz, baz, last])
            act = actor(torch.tensor(obs, dtype=torch.float32)[None]).numpy()[0].astype(np.float64)
            steps.append({"foo": foo, "bar": bar, "baz": baz, "actions": act, "out": 3 * act + 2})
            last = act
    return steps


def mlp_factory() -> tuple[ExportableEnv, torch.nn.Module]:
    """``exploy record`` factory: the registered tutorial env with the seed-0 MLP of :func:`export_variant`."""
    torch.manual_seed(0)
    env = make_registered()
    return env, Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
