"""Export mjlab tasks: an mjlab ``ManagerBasedRlEnv`` as an exploy :class:`ExportableEnvironment`.

Needs the ``mjlab`` extra (``pip install exploy_ros[mjlab]``). Typical use::

    from exploy.frameworks.mjlab import make_task_export
    made = make_task_export("Mjlab-Velocity-Flat-Unitree-Go1", checkpoint="model_1000.pt")
    export_environment_as_onnx(env=made.env, actor=made.actor, path="out", filename="policy.onnx")

or from the shell: ``exploy export --mjlab Mjlab-Velocity-Flat-Unitree-Go1 --checkpoint model.pt``.
An environment you built yourself: ``MjlabExportableEnvironment(env)`` (``num_envs=1``).
``write_scene(env, folder)`` writes the task's MuJoCo model (``scene.xml`` + meshes) for
``exploy sim2sim --mjcf``.
"""

from __future__ import annotations

from exploy.frameworks.mjlab.actor import RslRlActor
from exploy.frameworks.mjlab.env import MjlabExportableEnvironment
from exploy.frameworks.mjlab.errors import MjlabExportError
from exploy.frameworks.mjlab.scene import write_scene
from exploy.frameworks.mjlab.task import (
    GO1_FLAT_VELOCITY,
    TaskExport,
    make_go1_flat_velocity,
    make_task_export,
    registered_tasks,
)

__all__ = [
    "GO1_FLAT_VELOCITY",
    "MjlabExportError",
    "MjlabExportableEnvironment",
    "RslRlActor",
    "TaskExport",
    "make_go1_flat_velocity",
    "make_task_export",
    "registered_tasks",
    "write_scene",
]
