"""docs/install.md, "As a user, from pip": its commands, run verbatim in a fresh venv, install a
working exploy, and the console scripts run, with and without ROS.

The blocks marked ``<!-- tested: ...`` run in one bash session in a copy of the repository, with
HOME in tmp_path (the docs use ``~/exploy-venv``). The environment pins what pip resolves to the
versions of requirements-dev.txt (PIP_CONSTRAINT), as CI's own venv has them: the commands stay
verbatim, and an unpinned torch does not pull a CUDA build. Takes about two minutes (torch
installs from this machine's wheel, the ROS wheels come from PyPI).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "install.md"
SOURCES = ("setup.py", "setup.cfg", "package.xml", "resource", "launch", "config", "exploy", "exploy_ros")
RC = "__exit_code__"


def _tested_blocks(text: str) -> list[list[str]]:
    """The command lines of each fenced bash block that follows a ``<!-- tested:`` marker."""
    blocks = re.findall(r"<!-- tested:[^>]*-->\s*```bash\n(.*?)```", text, flags=re.S)
    return [
        [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")] for block in blocks
    ]


def _constraints(path: pathlib.Path) -> pathlib.Path:
    """requirements-dev.txt's pins as a constraints file (constraints take no extras)."""
    pins = [
        re.sub(r"\[[^\]]*\]", "", line.split("#")[0].strip())
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if "==" in line.split("#")[0]
    ]
    path.write_text("\n".join(pins) + "\n")
    return path


def _session(lines: list[str]) -> str:
    """A bash script running ``lines`` in order, printing each one's exit code after it."""
    out = ["exec 2>&1"]
    for k, line in enumerate(lines):
        out += [f"echo '>>> {k}'", line, f"echo '{RC} {k} '$?"]
    return "\n".join(out) + "\n"


def test_docs_pip_install_path_works_verbatim_in_a_fresh_venv(tmp_path):
    blocks = _tested_blocks(DOC.read_text())
    assert len(blocks) == 2, "docs/install.md should mark two tested blocks"
    without_ros, with_ros = blocks
    assert 'pip install ".[export,replay]"' in without_ros and 'pip install ".[ros]"' in with_ros

    repo = tmp_path / "exploy"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        src = ROOT / name
        (shutil.copytree(src, repo / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, repo / name))
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"  # the interpreter this suite runs on, as `python3`
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(pathlib.Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    (repo / "policy.onnx").write_bytes(b"not an onnx file")  # the docs' node start: fails configure
    env = {
        "HOME": str(home),
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "PIP_CONSTRAINT": str(_constraints(tmp_path / "constraints.txt")),
        "PIP_CACHE_DIR": str(pathlib.Path.home() / ".cache" / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "ROS_DOMAIN_ID": str(100 + os.getpid() % 100),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "LANG": "C.UTF-8",
    }
    for key in ("PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "SSL_CERT_FILE"):
        if key in os.environ:
            env[key] = os.environ[key]
    checks = [
        "policy_node --ros-args -p policy_path:=policy.onnx",  # no ROS yet: one line
        "replay_node",
    ]
    lines = [*without_ros, *checks, *with_ros, "replay_node"]
    try:
        result = subprocess.run(
            ["bash", "-c", _session(lines)], cwd=repo, env=env, capture_output=True, text=True, timeout=900
        )
    finally:
        shutil.rmtree(home / "exploy-venv", ignore_errors=True)  # about 1 GB with torch: not kept in tmp
    out = result.stdout
    codes = {int(k): int(c) for k, c in re.findall(rf"{RC} (\d+) (\d+)", out)}
    assert len(codes) == len(lines), out[-3000:]
    outputs = re.split(r">>> \d+\n", out)[1:]

    def output(k: int) -> str:
        return re.sub(rf"{RC} \d+ \d+\n?", "", outputs[k])

    n = len(without_ros)
    for k, line in enumerate(without_ros):
        assert codes[k] == 0, f"{line!r} failed:\n{output(k)[-3000:]}"
    assert "usage: exploy" in output(without_ros.index("exploy --help"))
    for k in (n, n + 1):  # policy_node, replay_node without ROS
        text = output(k).strip()
        assert codes[k] == 1 and len(text.splitlines()) == 1 and "Traceback" not in text, text[-3000:]
        assert "needs ROS 2 (rclpy)" in text and "pip install 'exploy_ros[ros]'" in text
    m = n + 2
    assert codes[m] == 0, output(m)[-3000:]  # pip install ".[ros]"
    node = output(m + 1)
    assert codes[m + 1] == 1 and "Configure failed" in node and "policy.onnx" in node, node[-3000:]
    assert "Traceback" not in node
    replay = output(m + 2)
    assert codes[m + 2] == 2 and "replay_node: set parameters bag:=" in replay, replay[-3000:]
