"""Tab completion for `%oscar`: sub-commands, service names, panels, cluster ids, variables.

Service names come from the current connection only when one is already open
(completion never connects) and are cached for a few seconds. Where nothing
specific applies, IPython's own completers (paths, names) take over.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Tuple

from IPython.core.error import TryNext

from .arguments import COMMANDS, PANEL_OPTIONS, PANELS

logger = logging.getLogger(__name__)

SERVICE_COMMANDS = ("run", "map", "job", "jobs", "logs", "rm", "call", "stop", "start", "restart",
                    "deployment")
DATA_COMMANDS = ("run", "map", "job", "deploy")
CACHE_SECONDS = 10.0

_cache: Dict[str, Tuple[float, List[str]]] = {}


def _open_clusters() -> Dict[str, Any]:
    import oscar_jupyter
    try:
        return dict(oscar_jupyter.clusters())
    except Exception:  # completion must never fail loudly
        return {}


def service_names() -> List[str]:
    """Names of the current cluster's services (cached; [] when not connected)."""
    if not _open_clusters():
        return []
    import oscar_jupyter
    try:
        cl = oscar_jupyter.current()
        key = getattr(cl, "id", "")
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        names = sorted(getattr(s, "name", "") for s in cl.services())
    except Exception as exc:
        logger.debug("no service names for completion: %s", exc)
        return []
    _cache[key] = (time.monotonic(), names)
    return names


def complete(shell: Any, event: Any) -> List[str]:
    """IPython `complete_command` hook for `%oscar`."""
    line = event.line
    parts = line.split()
    if line.endswith((" ", "\t")):
        parts.append("")
    if len(parts) < 2:
        raise TryNext()
    word = parts[-1]
    if len(parts) == 2:
        return [c for c in COMMANDS if c.startswith(word)]
    cmd, position = parts[1], len(parts) - 2
    if cmd == "panel" and position >= 2:
        return _panel_option(shell, parts[2], parts[-2], word)
    if word.startswith("-"):
        raise TryNext()
    choices: List[str] = []
    if position == 1 and cmd in SERVICE_COMMANDS:
        choices = service_names()
    elif position == 1 and cmd == "panel":
        choices = list(PANELS)
    elif position == 1 and cmd == "help":
        choices = list(COMMANDS)
    elif position == 1 and cmd == "use":
        choices = sorted(_open_clusters())
    elif cmd in DATA_COMMANDS and (position >= 2 or cmd == "deploy"):
        choices = sorted(n for n in shell.user_ns if not n.startswith("_")
                         and n.isidentifier() and n not in ("In", "Out", "exit", "quit", "get_ipython"))
        found = [c for c in choices if c.startswith(word)]
        if not found:
            raise TryNext()  # file names
        return found
    found = [c for c in choices if c.startswith(word)]
    if not found:
        raise TryNext()
    return found


def _variables(shell: Any) -> List[str]:
    return sorted(n for n in shell.user_ns if not n.startswith("_") and n.isidentifier()
                  and n not in ("In", "Out", "exit", "quit", "get_ipython"))


def _panel_option(shell: Any, panel: str, previous: str, word: str) -> List[str]:
    """`%oscar panel NAME --...`: the options of that panel, and values for some of them."""
    if previous in ("--service", "-s"):
        choices = service_names()
    elif previous in ("--fdl", "--run"):
        choices = _variables(shell)
    elif word.startswith("-"):
        choices = ["--" + dest.replace("_", "-") for dest, panels in PANEL_OPTIONS.items()
                   if panel in panels]
    else:
        raise TryNext()
    found = [c for c in choices if c.startswith(word)]
    if not found:
        raise TryNext()
    return found


def install(shell: Any) -> None:
    """Register the completer on `shell`."""
    shell.set_hook("complete_command", complete, str_key="%oscar")
