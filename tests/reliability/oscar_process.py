"""The ``oscar-local`` command run as a child process, for tests that kill it or measure its memory."""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import List, Optional

import psutil
import requests

READY = re.compile(r"oscar-local is running at (\S+)")


class OscarLocalProcess:
    """``python -m oscar_jupyter.local --port 0 --data-dir <dir>`` with a known admin password."""

    def __init__(self, data_dir: str, password: str, *, cores: Optional[float] = None,
                 extra_args: Optional[List[str]] = None) -> None:
        self.data_dir = data_dir
        self.password = password
        self.user = "oscar"
        self.cores = cores
        self.extra_args = list(extra_args or [])
        self.proc: Optional[subprocess.Popen] = None
        self.endpoint = ""
        self.output: List[str] = []

    def start(self, timeout: float = 90.0) -> "OscarLocalProcess":
        """Start the command and wait for its 'running at' line and a healthy /health."""
        argv = [sys.executable, "-m", "oscar_jupyter.local", "--port", "0", "--data-dir", self.data_dir,
                "--log-level", "WARNING", "--shutdown-grace", "2"]
        if self.cores is not None:
            argv += ["--cores", str(self.cores)]
        env = dict(os.environ, OSCAR_LOCAL_PASSWORD=self.password)
        self.output = []
        self.proc = subprocess.Popen(argv + self.extra_args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump(stream) -> None:  # keep draining so the child never blocks on a full pipe
            for line in stream:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise RuntimeError("oscar-local did not start in time:\n" + "".join(self.output[-30:]))
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("oscar-local exited during start-up:\n" + "".join(self.output[-30:]))
            match = READY.search(line)
            if match:
                self.endpoint = match.group(1).rstrip("/")
                break
        requests.get(self.endpoint + "/health", timeout=10).raise_for_status()
        return self

    @property
    def auth(self) -> tuple:
        return (self.user, self.password)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def descendants(self) -> List[psutil.Process]:
        """Every live process below oscar-local (S3 endpoint, process keeper, scripts and their children)."""
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        """Resident memory of the oscar-local process itself, in bytes."""
        return psutil.Process(self.pid).memory_info().rss

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the clean stop. Returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                raise
        return self.proc.returncode


def wait_gone(processes: List[psutil.Process], timeout: float) -> List[psutil.Process]:
    """Wait until the given processes have exited; return those still alive after ``timeout``."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    still = []
    for p in alive:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                still.append(p)
        except psutil.Error:  # exited while we looked
            continue
    return still
