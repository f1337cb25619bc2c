"""Build a registered mjlab task and its actor for export: ``make_task_export(TASK_ID)``."""

from __future__ import annotations

import contextlib
import io
import pathlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from exploy.exporter.core.actor import add_actor_memory
from exploy.frameworks.mjlab.actor import RslRlActor
from exploy.frameworks.mjlab.env import MjlabExportableEnvironment
from exploy.frameworks.mjlab.errors import MjlabExportError

__all__ = ["GO1_FLAT_VELOCITY", "TaskExport", "make_go1_flat_velocity", "make_task_export", "registered_tasks"]

GO1_FLAT_VELOCITY = "Mjlab-Velocity-Flat-Unitree-Go1"

SIM_ONLY_EVENTS = ("encoder_bias",)
"""Events of mjlab's task configurations that randomise what a robot does not have; removed for export."""


@dataclass
class TaskExport:
    """What :func:`make_task_export` built.

    Attributes:
        env: The exportable environment (wrapping the mjlab environment).
        actor: The actor to export.
        task_id: The mjlab task.
        trained: True when the actor's weights come from a checkpoint, False for the
            deterministic random actor.
        notes: What was changed for export (removed events, noise switched off, ...).
        runner: The rsl_rl runner that holds the actor (``runner.save(path)`` writes a
            checkpoint).
    """

    env: MjlabExportableEnvironment
    actor: RslRlActor
    task_id: str
    trained: bool
    notes: list[str]
    runner: Any = None


def registered_tasks() -> list[str]:
    """The task ids mjlab registers (importing ``mjlab.tasks``)."""
    import mjlab.tasks  # noqa: F401  (registers the tasks)
    from mjlab.tasks.registry import list_tasks

    return sorted(list_tasks())


def make_task_export(
    task_id: str,
    *,
    checkpoint: str | pathlib.Path | None = None,
    seed: int = 0,
    obs_group: str = "actor",
    episode_length_s: float | None = None,
    configure: Callable[[Any], None] | None = None,
    configure_agent: Callable[[Any], None] | None = None,
    quiet: bool = True,
) -> TaskExport:
    """Build ``task_id``'s play configuration with one env on the CPU and its rsl_rl actor.

    Args:
        task_id: A registered mjlab task, e.g. ``Mjlab-Velocity-Flat-Unitree-Go1``.
        checkpoint: An rsl_rl checkpoint (``model_*.pt``) of that task; None gives a random
            actor, deterministic for ``seed``.
        seed: Seed of the random actor's weights and of mjlab's random state.
        obs_group: The observation group the actor reads.
        episode_length_s: Override the task's episode length (seconds), e.g. to see resets
            in a short evaluation; None keeps the task's.
        configure: Called with the environment configuration before the environment is
            built, to change it (e.g. ``cfg.observations["actor"].history_length = 3``).
        configure_agent: Called with the rsl_rl runner configuration before the runner is
            built (e.g. a recurrent actor: ``cfg.actor.class_name = "RNNModel"``); it must
            match the checkpoint.
        quiet: Hide mjlab's and rsl_rl's console output while building.

    Raises:
        MjlabExportError: unknown task, unreadable or mismatching checkpoint, or an environment
            the adapter cannot export (see :class:`MjlabExportableEnvironment`).
    """
    from mjlab.envs import ManagerBasedRlEnv
    from mjlab.rl import MjlabOnPolicyRunner, RslRlVecEnvWrapper
    from mjlab.tasks.registry import load_env_cfg, load_rl_cfg, load_runner_cls

    tasks = registered_tasks()
    if task_id not in tasks:
        shown = ", ".join(tasks[:40]) + (" ..." if len(tasks) > 40 else "")
        raise MjlabExportError(f"unknown mjlab task '{task_id}'; registered tasks: {shown}")
    if checkpoint is not None and not pathlib.Path(checkpoint).is_file():
        raise MjlabExportError(f"checkpoint '{checkpoint}' is not a file; pass an rsl_rl model_*.pt of '{task_id}'")
    if quiet:
        import warp

        warp.config.quiet = True
        if hasattr(warp, "LOG_WARNING"):  # no per-kernel "Module ... load on device" lines
            warp.config.log_level = max(int(warp.config.log_level), int(warp.LOG_WARNING))
    notes: list[str] = []
    cfg = load_env_cfg(task_id, play=True)
    cfg.scene.num_envs = 1
    cfg.seed = seed
    if episode_length_s is not None:
        cfg.episode_length_s = float(episode_length_s)
    if configure is not None:
        configure(cfg)
    for event in SIM_ONLY_EVENTS:
        if cfg.events.pop(event, None) is not None:
            notes.append(f"event '{event}' removed (sim-only randomisation)")
    out = io.StringIO()
    quiet_ctx = contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext()
    with quiet_ctx, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        env = ManagerBasedRlEnv(cfg=cfg, device="cpu")
        agent_cfg = load_rl_cfg(task_id)
        if configure_agent is not None:
            configure_agent(agent_cfg)
        wrapped = RslRlVecEnvWrapper(env, clip_actions=agent_cfg.clip_actions)
        runner_cls = load_runner_cls(task_id) or MjlabOnPolicyRunner
        runner = runner_cls(wrapped, asdict(agent_cfg), log_dir=None, device="cpu")
        if checkpoint is not None:
            try:
                runner.load(str(checkpoint), map_location="cpu")
            except Exception as err:  # torch/rsl_rl raise many kinds; the message says which
                raise MjlabExportError(
                    f"cannot load checkpoint '{checkpoint}' for '{task_id}': {type(err).__name__}: {err}"
                ) from err
        exp_env = MjlabExportableEnvironment(env, obs_group=obs_group)
    actor = RslRlActor(runner.alg.actor, obs_group=obs_group, clip_actions=agent_cfg.clip_actions)
    if actor.recurrent:
        with torch.no_grad():
            actor(exp_env.empty_actor_observations())  # creates the recurrent state
        add_actor_memory(context_manager=exp_env.context_manager(), get_hidden_states_func=actor.get_state)
        notes.append("recurrent actor: its state is memory actor_hidden_state_<i>")
    return TaskExport(
        env=exp_env,
        actor=actor,
        task_id=task_id,
        trained=checkpoint is not None,
        notes=notes + exp_env.notes,
        runner=runner,
    )


def make_go1_flat_velocity(seed: int = 0) -> tuple[MjlabExportableEnvironment, RslRlActor]:
    """``(env, actor)`` of the Go1 flat velocity task with the random actor of ``seed``.

    A factory for the ``MODULE:FACTORY`` commands (``exploy record``): with the same seed it
    builds the same actor as ``exploy export --mjlab Mjlab-Velocity-Flat-Unitree-Go1``.
    """
    made = make_task_export(GO1_FLAT_VELOCITY, seed=seed)
    return made.env, made.actor
