"""docs/writing-an-adapter.md's tutorial, followed as a reader would: every command, every edit.

The tutorial's steps are the blocks after a ``<!-- tutorial: ACTION [TARGET] -->`` marker:
``run`` a shell block, start a ``background`` one (a server: on until the end), ``edit``
TARGET (the block's one top-level definition replaces the one of the same name) or
``append`` to TARGET. They run in order in an empty folder, in a virtual environment
layered on the hub's (it sees the hub's packages; what the tutorial installs goes into it
and is gone with the folder), with ``govhub``, ``pip``, ``pytest`` and ``python`` on PATH.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import queue
import re
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "writing-an-adapter.md"
_STEP = re.compile(
    r"<!-- tutorial: (?P<action>run|background|edit|append)(?: (?P<target>\S+))? -->\n"
    r"```(?P<language>\w+)\n(?P<body>.*?)```",
    re.S,
)
#: Console scripts of the layered environment: name → (module, function).
_SCRIPTS = {
    "govhub": ("faces.cli", "main"),
    "pip": ("pip._internal.cli.main", "main"),
    "pytest": ("pytest", "main"),
}


@dataclass(frozen=True)
class Step:
    """One marked block of the tutorial."""

    action: str
    target: str | None
    language: str
    body: str


def tutorial_steps() -> list[Step]:
    """The tutorial's steps, in the document's order."""
    text = DOC.read_text(encoding="utf-8")
    return [Step(m["action"], m["target"], m["language"], m["body"]) for m in _STEP.finditer(text)]


def _defined_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def replace_definition(source: str, block: str) -> str:
    """``source`` with the block's one top-level definition in place of the same-named one.

    The comment lines right above the old definition go with it (the block brings its own).
    """
    [new] = ast.parse(block).body
    name = _defined_name(new)
    old = [node for node in ast.parse(source).body if _defined_name(node) == name]
    assert name, "an edit block holds one top-level definition or assignment"
    assert len(old) == 1, f"the file has no single top-level {name!r} to replace"
    node = old[0]
    lines = source.splitlines(keepends=True)
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    assert node.end_lineno is not None
    lines[start : node.end_lineno] = [block if block.endswith("\n") else block + "\n"]
    return "".join(lines)


def layered_environment(where: Path) -> Path:
    """A virtual environment that sees the hub's packages; its ``bin`` folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    bin_dir = where / "bin"
    python = bin_dir / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    hub_packages = sysconfig.get_paths()["purelib"]
    # addsitedir, not a bare path: the hub's own .pth files (its editable install) apply
    (Path(purelib) / "govhub-dev.pth").write_text(
        f"import site; site.addsitedir({hub_packages!r})\n", encoding="utf-8"
    )
    for name, (module, function) in _SCRIPTS.items():
        script = bin_dir / name
        script.write_text(
            f"#!{python}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n",
            encoding="utf-8",
        )
        script.chmod(0o755)
    return bin_dir


def _environment(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVHUB_", "PYTHON"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def _run(body: str, work: Path, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Run a shell block; its output and the environment it leaves (its exports)."""
    saved = work.parent / "tutorial.env"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"{body}\nenv -0 > {saved}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"$ {body}\n{output[-6000:]}"
    left = dict(entry.split("=", 1) for entry in saved.read_text().split("\0") if "=" in entry)
    return output, left


class _Background:
    """A server a block starts, with what it prints so far."""

    def __init__(self, body: str, work: Path, env: dict[str, str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {body.strip()}"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def printed(self, text: str) -> bool:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        assert self.process.poll() is None, "".join(self.seen)
        return any(text in line for line in self.seen)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


def test_the_tutorial_builds_an_adapter_that_passes_its_tests_and_checks(tmp_path: Path) -> None:
    steps = tutorial_steps()
    assert [s.action for s in steps].count("run") >= 4, "the tutorial's steps are marked"
    bin_dir = layered_environment(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    env = _environment(bin_dir)
    outputs: list[str] = []
    servers: list[_Background] = []
    try:
        for step in steps:
            if step.action == "run":
                output, env = _run(step.body, work, env)
                outputs.append(output)
            elif step.action == "background":
                servers.append(_Background(step.body, work, env))
                wait_for(lambda: servers[-1].printed("listening on"), 20, "the sandbox to listen")
            else:
                assert step.target is not None
                target = work / step.target
                text = target.read_text(encoding="utf-8")
                if step.action == "edit":
                    text = replace_definition(text, step.body)
                else:
                    text = text.rstrip("\n") + "\n\n" + step.body
                target.write_text(text, encoding="utf-8")
    finally:
        for server in servers:
            server.stop()
    everything = "\n".join(outputs)
    assert re.search(r"\d+ passed", everything)
    assert " failed" not in everything
    assert "住房公积金管理中心" in everything  # adapters list: the adapter's description
    assert re.search(r"housing_fund\s+housing_fund\s+ok", everything), everything[-3000:]
    # the code the tutorial shows is as clean as the code it replaced
    package = work / "govhub-housing-fund"
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        linted = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), *command, str(package)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
    installed = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    assert "govhub-housing-fund" not in installed, "the tutorial installed into the hub's venv"


def test_an_edit_replaces_one_definition_with_the_comments_above_it() -> None:
    source = '"""Doc."""\n\n#: old note\nFIELDS = ("a",)\n\n\ndef f() -> int:\n    return 1\n'
    block = '#: new note\nFIELDS = ("x", "y")\n'
    assert replace_definition(source, block) == (
        '"""Doc."""\n\n#: new note\nFIELDS = ("x", "y")\n\n\ndef f() -> int:\n    return 1\n'
    )
    replaced = replace_definition(source, "def f() -> int:\n    return 2\n")
    assert replaced.endswith("def f() -> int:\n    return 2\n")
    assert "#: old note" in replaced
