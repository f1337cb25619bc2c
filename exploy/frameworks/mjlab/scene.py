"""Write an mjlab task's compiled scene as an MJCF folder a plain MuJoCo simulator can load.

mjlab composes its scene with ``MjSpec`` (robot, terrain, sensors) from XML and meshes inside
its wheel, then applies the simulation options (time step, integrator, solver, ...) to the
*compiled* model only. :func:`write_scene` writes ``scene.xml`` and its ``assets/`` (meshes,
paths relative to ``scene.xml``) with those options carried into the XML, so ``exploy sim2sim
--mjcf <folder>/scene.xml`` steps the same model at the same rate as the task. Startup
randomisation (e.g. friction, centre of mass) is not applied: the file holds the nominal model.
"""

from __future__ import annotations

import pathlib
import shutil
import xml.etree.ElementTree as ET
from typing import Any

from exploy.frameworks.mjlab.errors import MjlabExportError

__all__ = ["SCENE_FILE", "write_scene"]

SCENE_FILE = "scene.xml"

_SKIPPED_OPTIONS = frozenset({"disableactuator"})
"""Compiled-model option fields that the spec does not take as they are."""


def write_scene(env: Any, folder: str | pathlib.Path) -> pathlib.Path:
    """Write ``env``'s scene (``scene.xml`` and ``assets/``) into ``folder``; return the XML's path.

    Args:
        env: An mjlab ``ManagerBasedRlEnv`` (its ``scene.spec`` and ``sim.mj_model``).
        folder: Destination folder (created).

    Raises:
        MjlabExportError: when the scene cannot be written or does not load back with the
            task's time step and sizes.
    """
    import mujoco
    from mjlab.utils.spec import export_spec

    folder = pathlib.Path(folder)
    model = env.sim.mj_model
    spec = env.scene.spec.copy()
    for name in dir(model.opt):
        if name.startswith("_") or name in _SKIPPED_OPTIONS or not hasattr(spec.option, name):
            continue
        value = getattr(model.opt, name)
        if callable(value):
            continue
        try:
            setattr(spec.option, name, value)
        except (TypeError, ValueError, AttributeError):
            continue  # a field the spec keeps in another form; checked below where it matters
    try:
        export_spec(spec, folder)  # the XML, and the assets mjlab holds in memory
        path = folder / SCENE_FILE
        _copy_asset_files(env, path)  # the assets the entities load from their own folders
        loaded = mujoco.MjModel.from_xml_path(str(path))
    except (OSError, ValueError) as err:
        raise MjlabExportError(f"cannot write the scene to {folder}: {' '.join(str(err).split())[:300]}") from err
    same = (loaded.opt.timestep == model.opt.timestep and loaded.opt.integrator == model.opt.integrator
            and (loaded.nq, loaded.nv, loaded.nu, loaded.nsensor) == (model.nq, model.nv, model.nu, model.nsensor))
    if not same:
        raise MjlabExportError(
            f"the scene written to {path} does not match the task's model (time step {loaded.opt.timestep} vs "
            f"{model.opt.timestep}, nq {loaded.nq} vs {model.nq}, nu {loaded.nu} vs {model.nu}); report this task"
        )
    return path


def _copy_asset_files(env: Any, scene: pathlib.Path) -> None:
    """Copy each file the scene XML references and ``assets/`` lacks, from the folder of the
    entity that loaded it (its MJCF's folder and mesh folder).

    Raises:
        MjlabExportError: for a referenced file found in no entity's folder.
    """
    root = ET.parse(scene).getroot()
    compiler = root.find("compiler")
    asset_dir = scene.parent / (compiler.get("meshdir", "") if compiler is not None else "")
    dirs: list[pathlib.Path] = []
    for entity in env.scene.entities.values():
        base = pathlib.Path(entity.spec.modelfiledir or ".")
        dirs += [base / (entity.spec.meshdir or ""), base / (entity.spec.texturedir or ""), base]
    for elem in root.iter():
        ref = elem.get("file")
        if not ref or elem.tag == "include" or (asset_dir / ref).is_file():
            continue
        source = next((d / ref for d in dirs if (d / ref).is_file()), None)
        if source is None:
            raise MjlabExportError(f"the scene references {ref}, found in no entity's folder ({len(dirs)} searched)")
        (asset_dir / ref).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, asset_dir / ref)
