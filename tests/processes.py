"""``govhub`` commands as real child processes: started, read, signalled, killed as a group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests import netguard
from tests.support import wait_for

__all__ = ["Govhub", "descendants"]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except FileNotFoundError:
                continue
            for child in text.split():
                if int(child) not in found:
                    found.add(int(child))
                    stack.append(int(child))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


class Govhub:
    """``govhub <args>`` in a session of its own; its output lines are kept.

    Args:
        config: The configuration file.
        args: The command and its options (``["run", "--workers", "2"]``).
        ready: A text the command prints once it serves; :attr:`url` is read from that
            line's last word when it is a URL.
    """

    def __init__(self, config: Path, *args: str, ready: str = "listening on") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faces.cli", "--config", str(config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        line = wait_for(
            lambda: next((text for text in self.lines if ready in text), None) or self._died(),
            60,
            f"{' '.join(args)} to print {ready!r}",
        )
        word = line.split()[-1] if line.split() else ""
        if line.startswith("GovHub") and "listening on" in line:
            word = line.split("listening on", 1)[1].split()[0]
        self.url = word if word.startswith("http") else ""
        if self.url:
            netguard.opened_by_this_run(self.url)  # the child bound it, for this test

    @property
    def pid(self) -> int:
        return self.process.pid

    def _died(self) -> None:
        if self.process.poll() is not None:
            output = "".join(self.lines)
            raise AssertionError(f"the command ended ({self.process.returncode}):\n{output}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                self.lines.append(line)
        except ValueError:  # closed while reading: the process is gone
            return

    def processes(self) -> set[int]:
        """This command's process and every process it started."""
        return {self.pid, *descendants(self.pid)}

    def kill_all(self) -> None:
        """``kill -9`` of every process of the command (its process group)."""
        os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the whole group, as a terminal sends it."""
        os.killpg(self.pid, signal.SIGINT)

    def stop(self) -> None:
        """Stop it if it still runs (SIGTERM to the group, SIGKILL if it lingers)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill_all()
            except ProcessLookupError:
                pass
        # a child left behind (it should not be) must not outlive the test
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.process.stdout is not None:
            self.process.stdout.close()
