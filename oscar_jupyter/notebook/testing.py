"""`TestingShell`: an in-process IPython shell for testing the magics without a kernel.

    shell = TestingShell.preconfigured()      # history off, extension loaded
    out = shell.check("%oscar services")      # never raises; captures everything
    out.error, out.stdout, out.stderr, out.bundles
    shell.run_cell("%oscar info")             # raises the cell's error, like a test wants
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config, MultipleInstanceError


@dataclass
class CellOutput:
    """What one cell did: its error (if any), printed text and displayed bundles."""

    result: ExecutionResult
    stdout: str
    stderr: str
    bundles: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def error(self) -> Optional[BaseException]:
        return self.result.error_in_exec or self.result.error_before_exec

    @property
    def html(self) -> str:
        """Every displayed text/html, joined."""
        return "\n".join(b.get("text/html", "") for b in self.bundles)

    @property
    def text(self) -> str:
        """Every displayed text/plain, joined."""
        return "\n".join(b.get("text/plain", "") for b in self.bundles)


class TestingShell(InteractiveShell):
    """An InteractiveShell whose `run_cell` raises the cell's error."""

    __test__ = False  # not a pytest test class

    @classmethod
    def preconfigured(cls, *, load_extension: bool = True) -> "TestingShell":
        """A shell with history disabled and (by default) the oscar magics loaded."""
        config = Config()
        config.HistoryAccessor.enabled = False
        config.HistoryManager.enabled = False
        try:
            shell = cls.instance(config=config)
        except MultipleInstanceError:  # another InteractiveShell is the process's singleton
            shell = cls(config=config)
        if load_extension:
            from .magics import load_ipython_extension
            load_ipython_extension(shell)
        return shell

    def run_cell(self, *args: Any, **kwargs: Any) -> ExecutionResult:  # type: ignore[override]
        result = super().run_cell(*args, **kwargs)
        result.raise_error()
        return result

    def check(self, source: str) -> CellOutput:
        """Run `source` as a cell without raising; capture what it printed and displayed."""
        with capture_output(display=True) as cap:
            result = super().run_cell(source)
        bundles = [dict(o.data) for o in cap.outputs]
        return CellOutput(result, cap.stdout, cap.stderr, bundles)
