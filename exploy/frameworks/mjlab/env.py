"""An mjlab manager-based environment as an :class:`ExportableEnvironment`, task code unchanged.

The traced paths call mjlab's own managers: observations come from the observation manager's
policy group, actions go through the action manager's ``process_action`` / ``apply_action``.
While they run, each entity's data is replaced by an :class:`EntityDataProxy` whose tensors keep
their identity (mjlab's ``entity.data.*`` build new tensors on every access); builtin sensors and
command terms already keep theirs. Evaluation steps the real environment with mjlab's own
``step``; the hooks fire from the action manager's ``apply_action`` at every substep.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from mjlab.envs import ManagerBasedRlEnv
from mjlab.sensor import BuiltinSensor

from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.frameworks.mjlab import components
from exploy.frameworks.mjlab.errors import MjlabExportError
from exploy.frameworks.mjlab.history import HistoryMemory
from exploy.frameworks.mjlab.proxies import EntityDataProxy, install_entity_proxies
from exploy.frameworks.mjlab.reads import tensors_read

__all__ = ["MjlabExportableEnvironment"]


class MjlabExportableEnvironment(ExportableEnvironment):
    """Wrap ``env`` (``num_envs=1``) for export; resets it and registers every component.

    Inputs are registered only where the observation group or the action terms read them
    (found by running both once). Memory values right after the reset become their
    ``initial_value``.

    Args:
        env: A built ``ManagerBasedRlEnv`` with one environment on the CPU (or mjlab's
            ``RslRlVecEnvWrapper`` around one).
        obs_group: The observation group the actor reads (concatenated).
        switch_off_noise: Switch off observation noise of ``obs_group`` (noted in
            :attr:`notes`); when False, noise is an error.

    Raises:
        MjlabExportError: when the environment cannot be exported (more than one env, a
            missing or non-concatenated group, observation delay, NaN policies,
            non-builtin sensors or entity data the adapter does not mirror read by the
            observations, encoder bias, non-joint action terms). The message names the term.
    """

    def __init__(self, env: ManagerBasedRlEnv, *, obs_group: str = "actor", switch_off_noise: bool = True) -> None:
        super().__init__()
        env = getattr(env, "unwrapped", env)  # accept mjlab's RslRlVecEnvWrapper too
        self._env = env
        self._group = obs_group
        self.notes: list[str] = []
        self._check_env(switch_off_noise)
        self._proxies = {
            name: EntityDataProxy(entity)
            for name, entity in env.scene.entities.items()
            if entity.is_articulated or not entity.is_fixed_base
        }
        history_buffers = [
            (term, buffer)
            for term, buffer in env.observation_manager._group_obs_term_history_buffer.get(obs_group, {}).items()
            if buffer.max_length > 1
        ]
        self._histories: list[HistoryMemory] = []
        self._hook_update: Callable[[], None] | None = None
        self._hook_reset: Callable[[], None] | None = None
        self._hook_substep: Callable[[int], None] | None = None
        self._substep = 0
        self._tracing = False
        with torch.inference_mode(False), torch.no_grad():
            env.reset()
        self._histories = [HistoryMemory(term, buffer) for term, buffer in history_buffers]  # after the reset's append
        self.refresh()
        self.input_names = self._register()

    # -- checks and registration ------------------------------------------------------------

    @property
    def env(self) -> ManagerBasedRlEnv:
        """The wrapped mjlab environment."""
        return self._env

    def _check_env(self, switch_off_noise: bool) -> None:
        env, om = self._env, self._env.observation_manager
        if str(env.device) != "cpu":
            raise MjlabExportError(f"the environment runs on '{env.device}'; build it with device='cpu' for export")
        if env.num_envs != 1:
            raise MjlabExportError(f"the environment has {env.num_envs} envs; build it with scene.num_envs = 1")
        if self._group not in om.active_terms:
            raise MjlabExportError(
                f"observation group '{self._group}' not found; groups: {sorted(om.active_terms)}"
            )
        if not om.group_obs_concatenate[self._group]:
            raise MjlabExportError(f"observation group '{self._group}' must be concatenated (concatenate_terms=True)")
        group_cfg = om.cfg[self._group]
        if group_cfg.nan_policy != "disabled":
            raise MjlabExportError(
                f"observation group '{self._group}' has nan_policy='{group_cfg.nan_policy}', which branches "
                "in Python and cannot be traced; set nan_policy='disabled' (the node rejects NaN inputs)"
            )
        noisy = []
        for name, term_cfg in zip(om._group_obs_term_names[self._group], om._group_obs_term_cfgs[self._group]):
            if term_cfg.delay_max_lag > 0:
                raise MjlabExportError(
                    f"observation term '{name}' has a delay (delay_max_lag={term_cfg.delay_max_lag}); a "
                    "random delay cannot be exported: set delay_min_lag = delay_max_lag = 0 for export"
                )
            sensor_name = (term_cfg.params or {}).get("sensor_name")
            if sensor_name is not None:
                sensor = env.scene.sensors.get(sensor_name)
                if type(sensor) is not BuiltinSensor:
                    raise MjlabExportError(
                        f"observation term '{name}' reads sensor '{sensor_name}' "
                        f"({type(sensor).__name__}); the mjlab adapter exports builtin MuJoCo sensors only"
                    )
            if term_cfg.noise is not None:
                noisy.append(name)
        if noisy:
            if not switch_off_noise:
                raise MjlabExportError(
                    f"observation terms {noisy} of group '{self._group}' add noise; export a play "
                    "configuration or set enable_corruption=False"
                )
            for term_cfg in om._group_obs_term_cfgs[self._group]:
                term_cfg.noise = None
            self.notes.append(f"observation noise of {noisy} switched off for export")
        for name, entity in env.scene.entities.items():
            bias = getattr(entity.data, "encoder_bias", None)
            if isinstance(bias, torch.Tensor) and bool(torch.any(bias != 0)):
                raise MjlabExportError(
                    f"entity '{name}' has a non-zero encoder_bias (a sim randomisation the robot does not "
                    "have); remove the 'encoder_bias' event from the task's events for export"
                )

    def _register(self) -> list[str]:
        cm = self.context_manager()
        candidates = components.candidate_inputs(self._env, self._proxies)

        def policy_path() -> None:
            with install_entity_proxies(self._env.scene.entities, self._proxies):
                self._env.observation_manager.compute_group(self._group, update_history=False)
                self._env.action_manager.apply_action()

        for proxy in self._proxies.values():
            proxy.reads.clear()
        read = {id(t) for t in tensors_read(policy_path, [c.tensor for c in candidates])}
        read |= {id(px.tensor(p)) for px in self._proxies.values() for p in px.reads}
        unsupported = {f"{n}.data.{p}" for n, px in self._proxies.items() for p in px.unsupported_reads}
        if unsupported:
            raise MjlabExportError(
                f"the observations or actions read {sorted(unsupported)}, which the mjlab adapter does not "
                f"mirror (it mirrors joint_pos/vel and the root link's pose and body-frame velocities)"
            )
        names = components.register_inputs(cm, [c for c in candidates if id(c.tensor) in read])
        components.register_memory(cm, self._env)
        for history in self._histories:
            cm.add_component(components.history_memory(history))
        components.register_outputs(cm, self._env)
        return names

    # -- state refresh and evaluation hooks -------------------------------------------------

    def refresh(self, *, mid_step: bool = False) -> None:
        """Copy the live entity data into the proxies' tensors and the observation history into
        its memory (in place; ``mid_step``: during a step's substeps, see :mod:`.history`)."""
        for proxy in self._proxies.values():
            proxy.refresh()
        for history in self._histories:
            history.refresh(mid_step=mid_step)

    def register_evaluation_hooks(
        self,
        update: Callable[[], None],
        reset: Callable[[], None],
        evaluate_substep: Callable[[int], None],
    ) -> None:
        """Hook the action manager's ``apply_action`` (called once per substep by mjlab's ``step``).

        After each ``apply_action`` the proxies are refreshed, ``update()`` and then
        ``evaluate_substep(i)`` are called, before mjlab writes to the simulator and steps it.
        """
        self._hook_update, self._hook_reset, self._hook_substep = update, reset, evaluate_substep
        manager = self._env.action_manager
        if getattr(manager, "_exploy_owner", None) is None:  # wrap mjlab's method once per manager
            original = manager.apply_action

            def apply_action() -> None:
                original()
                owner = manager._exploy_owner
                if owner is not None:
                    owner._after_apply_action()

            manager.apply_action = apply_action
        manager._exploy_owner = self  # the latest wrapper of this environment receives the calls

    def _after_apply_action(self) -> None:
        if self._hook_substep is None or self._tracing:
            return
        self.refresh(mid_step=True)
        if self._hook_update is not None:
            self._hook_update()
        self._hook_substep(self._substep)
        self._substep += 1

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """One mjlab ``step`` (``decimation`` substeps); returns the policy group and whether it reset."""
        self._substep = 0
        obs, _, terminated, truncated, _ = self._env.step(actions)
        done = bool(torch.any(terminated | truncated))
        self.refresh()
        if done and self._hook_reset is not None:
            self._hook_reset()
        if self._hook_update is not None:
            self._hook_update()
        return obs[self._group], done

    def observations_reset(self) -> torch.Tensor:
        """Reset the environment and return the policy group's first observations."""
        obs, _ = self._env.reset()
        self.refresh()
        return obs[self._group].clone()

    # -- traced -----------------------------------------------------------------------------

    def _traced(self, run: Callable[[], Any]) -> Any:
        self._tracing = True
        buffers = self._env.observation_manager._group_obs_term_history_buffer.get(self._group, {})
        real = {h.term: buffers[h.term] for h in self._histories}
        try:
            for history in self._histories:
                buffers[history.term] = history.stand_in()
            with install_entity_proxies(self._env.scene.entities, self._proxies):
                return run()
        finally:
            buffers.update(real)
            self._tracing = False

    def compute_observations(self) -> torch.Tensor:
        # update_history=True: history terms append the current frame (to the stand-ins).
        obs = self._traced(lambda: self._env.observation_manager.compute_group(self._group, update_history=True))
        return obs.reshape(1, -1)

    def process_actions(self, actions: torch.Tensor) -> None:
        def run() -> None:
            with warnings.catch_warnings():
                # mjlab checks `action.shape[1]` in Python; the exporter checks the shape first.
                warnings.filterwarnings(
                    "ignore",
                    message="Converting a tensor to a Python boolean",
                    category=torch.jit.TracerWarning,
                    module=r"mjlab\.managers\.action_manager",
                )
                self._env.action_manager.process_action(actions)

        self._traced(run)

    def apply_actions(self) -> None:
        self._traced(self._env.action_manager.apply_action)

    def prepare_export(self) -> None:
        """Refresh the proxies from the live state before a trace."""
        self.refresh()

    # -- description ------------------------------------------------------------------------

    @property
    def decimation(self) -> int:
        return int(self._env.cfg.decimation)

    @property
    def sim_dt(self) -> float:
        return float(self._env.physics_dt)

    def empty_actor_observations(self) -> torch.Tensor:
        dim = self._env.observation_manager.group_obs_dim[self._group]
        return torch.zeros(1, *dim)

    def empty_actions(self) -> torch.Tensor:
        return torch.zeros(1, self._env.action_manager.total_action_dim)

    def get_observation_names(self) -> list[str]:
        om = self._env.observation_manager
        names: list[str] = []
        for term, dims in zip(om._group_obs_term_names[self._group], om._group_obs_term_dim[self._group]):
            size = 1
            for d in dims:
                size *= int(d)
            names += [term] if size == 1 else [f"{term}[{i}]" for i in range(size)]
        return names

    def metadata(self) -> dict[str, Any]:
        om = self._env.observation_manager
        base_names = {
            name: self._env.scene.entities[name].root_body.name.split("/")[-1] for name in self._proxies
        }
        return {
            "framework": "mjlab",
            "obs_group": self._group,
            "obs_term_names": list(om._group_obs_term_names[self._group]),
            "action_term_names": list(self._env.action_manager.active_terms),
            "base_names": base_names,
            "sim_dt": self.sim_dt,
        }
