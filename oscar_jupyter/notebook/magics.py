"""`%oscar` and `%%oscar_fdl`: the notebook's command line for OSCAR.

The magics only parse arguments (`arguments.py`), call the client
(`commands.py`) and display. Expected errors (`errors.OscarError`, usage
mistakes) fail the cell with ONE line such as ``NotFound: Service 'x' was not
found.``; ``--traceback`` or ``%config OscarMagics.show_traceback = True`` shows
the full traceback instead.

Options (``%config OscarMagics.<name> = value``): `show_traceback`,
`default_timeout`, `map_concurrency`, `preview_size`, `progress`.
"""
from __future__ import annotations

import getpass
import logging
from typing import Any, Callable, List, Optional

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Float, Int, TraitError, observe, validate

from .. import display as _display
from .. import errors
from . import arguments, commands, inputs

logger = logging.getLogger(__name__)

#: how the magics ask for a password and for a confirmation (a terminal or a
#: notebook's input box); replaceable, e.g. by a front end with its own dialogs
ask_password: Callable[[str], str] = getpass.getpass
ask_confirmation: Callable[[str], str] = input

_RED = "\x1b[0;31m"
_RESET = "\x1b[0m"


MAX_PROBLEMS = 20


def short_error(exc: BaseException) -> List[str]:
    """`ClassName: message` as one line; an invalid definition adds one line per problem
    (each with its line and column) under it."""
    problems = list(getattr(exc, "problems", None) or [])
    if problems:
        head = getattr(exc, "message", str(exc)).split("\n", 1)[0].rstrip(":")
        hint = getattr(exc, "hint", "")
        lines = [f"{type(exc).__name__}: {head}" + (f" {hint}" if hint else "")]
        lines += [f"  - {p}" for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            lines.append(f"  … {len(problems) - MAX_PROBLEMS} more problems")
        return lines
    text = " ".join(ln.strip() for ln in str(exc).strip().splitlines() if ln.strip())
    return [f"{type(exc).__name__}: {text or 'failed'}"]


def _shorten(exc: BaseException) -> BaseException:
    """Make IPython show `exc` as its short form instead of a traceback."""
    lines = short_error(exc)
    exc._render_traceback_ = lambda: [f"{_RED}{ln}{_RESET}" for ln in lines]  # type: ignore[attr-defined]
    return exc


@magics_class
class OscarMagics(Magics):
    """`%oscar SUBCOMMAND ...` and `%%oscar_fdl` (see `%oscar help`)."""

    show_traceback = Bool(False, help="Show full tracebacks for expected errors.").tag(config=True)
    default_timeout = Float(None, allow_none=True,
                            help="Seconds to wait for `%oscar run` and `%oscar job --wait` "
                                 "(None: the client's default).").tag(config=True)
    map_concurrency = Int(4, help="Invocations at once for `%oscar map`.").tag(config=True)
    preview_size = Int(_display.options.preview_size,
                       help="Longest side in pixels of inline image previews.").tag(config=True)
    progress = Bool(True, help="Show progress bars for map and job.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._oscar_parser = arguments.build_oscar_parser()
        self._fdl_parser = arguments.build_fdl_parser()
        _display.options.preview_size = self.preview_size

    @validate("preview_size")
    def _valid_preview_size(self, proposal: Any) -> int:
        if proposal["value"] < 16:
            raise TraitError(f"preview_size must be at least 16 pixels, not {proposal['value']}")
        return proposal["value"]

    @validate("map_concurrency")
    def _valid_concurrency(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"map_concurrency must be at least 1, not {proposal['value']}")
        return proposal["value"]

    @observe("preview_size")
    def _preview_size_changed(self, change: Any) -> None:
        _display.options.preview_size = change["new"]

    # -- plumbing --------------------------------------------------------------------------

    def _show(self, obj: Any) -> None:
        from IPython.display import display
        if obj is None:
            return
        if type(obj).__module__.split(".")[0] == "ipywidgets" or hasattr(obj, "_ipython_display_") \
                or _is_widget(obj):
            display(obj)
        else:
            display(_display.mimebundle(obj), raw=True)

    @staticmethod
    def _say(text: str) -> None:
        print(text)

    @staticmethod
    def _confirm(question: str) -> bool:
        try:
            answer = ask_confirmation(question)
        except KeyboardInterrupt:
            return False
        except (EOFError, NotImplementedError, OSError):  # no stdin (e.g. a batch run)
            raise errors.OscarError("Cannot ask for confirmation here: no input is available.",
                                    hint="Add --yes to confirm on the command line.") from None
        return str(answer).strip().lower() in ("y", "yes")

    def _context(self, line: str = "") -> commands.Context:
        return commands.Context(namespace=self.shell.user_ns, show=self._show, say=self._say,
                                ask_password=_prompt_password, confirm=self._confirm,
                                default_timeout=self.default_timeout,
                                map_concurrency=self.map_concurrency, progress=self.progress,
                                quoted=inputs.quoted_words(line))

    def _guard(self, traceback: bool, fn: Callable[[], Any]) -> Any:
        """Run `fn`; expected errors become one-line errors unless tracebacks are wanted."""
        try:
            return fn()
        except arguments.HelpShown:
            return None
        except UsageError:
            raise
        except errors.OscarError as exc:
            if traceback or self.show_traceback:
                raise
            raise _shorten(exc) from None

    # -- magics ----------------------------------------------------------------------------

    @line_magic("oscar")
    def oscar(self, line: str = "") -> None:
        """Work with OSCAR clusters. `%oscar help` lists the sub-commands."""
        words = arguments.split(line)
        wants_tb = "--traceback" in words

        def go() -> None:
            args, _ = arguments.parse_oscar(self._oscar_parser, line)
            if args.command == "help":
                self._help(args.topic)
                return
            value = commands.COMMANDS[args.command](args, self._context(line))
            out = getattr(args, "out", None)
            if out:
                if not out.isidentifier():
                    raise UsageError(f"-o needs a variable name, not {out!r}.")
                self.shell.user_ns[out] = value
        return self._guard(wants_tb, go)

    def _help(self, topic: Optional[str]) -> None:
        if not topic:
            self._oscar_parser.print_help()
            return
        if topic not in arguments.COMMANDS:
            raise UsageError(f"%oscar help: unknown sub-command `{topic}`."
                             f"{arguments.suggest(topic, list(arguments.COMMANDS))}")
        try:
            self._oscar_parser.parse_args([topic, "--help"])
        except arguments.HelpShown:
            pass

    @cell_magic("oscar_fdl")
    def oscar_fdl(self, line: str = "", cell: str = "") -> None:
        """The cell is an FDL (YAML, scripts inline): validate it, keep it, deploy it.

        %%oscar_fdl [--deploy] [--name VAR] [--strict] [--no-wait] [--traceback]

        Keys the service schema does not know are shown as warnings (oscar-cli
        and OSCAR ignore them); with --strict they are errors.
        """
        words = arguments.split(line)
        wants_tb = "--traceback" in words

        def go() -> None:
            args = self._fdl_parser.parse_args(words)
            if not args.name.isidentifier():
                raise UsageError(f"--name needs a variable name, not {args.name!r}.")
            from .. import fdl
            # the cell's first line is the magic: the YAML starts on cell line 2
            definition = fdl.FDL.parse(cell, source="cell", line_offset=1, strict=args.strict)
            self.shell.user_ns[args.name] = definition
            self._show(definition)  # its warnings (unknown keys, ...) are shown with it
            if args.deploy:
                commands.deploy_fdl(definition, self._context(), wait=args.wait,
                                    strict=args.strict, warnings_shown=True)
            else:
                self._say(f"Kept as `{args.name}`; deploy it with `%oscar deploy {args.name}` "
                          "or run this cell with --deploy.")
        return self._guard(wants_tb, go)


OscarMagics.oscar.__doc__ = (OscarMagics.oscar.__doc__ or "") + "\n\n" + \
    arguments.build_oscar_parser().format_help()
OscarMagics.oscar_fdl.__doc__ = (OscarMagics.oscar_fdl.__doc__ or "") + "\n\n" + \
    arguments.build_fdl_parser().format_help()


def _is_widget(obj: Any) -> bool:
    try:
        from ipywidgets import Widget
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        return False
    return isinstance(obj, Widget)


def _prompt_password(question: str) -> str:
    """Ask for a password without echoing it; an empty answer is an error."""
    try:
        secret = ask_password(question)
    except KeyboardInterrupt:
        secret = ""
    except (EOFError, NotImplementedError, OSError):  # no stdin (e.g. a batch run)
        raise errors.AuthError("Cannot prompt for a password here: no input is available.",
                               hint="Pass --password $VAR, --token or an oscar-cli --cluster-id.") \
            from None
    if not secret:
        raise errors.AuthError("No password given.", hint="Pass --token, or answer the prompt.")
    return secret


def load_ipython_extension(ip: Any) -> OscarMagics:
    """Register the magics on `ip` (called by `%load_ext oscar_jupyter`)."""
    for existing in ip.configurables:
        if isinstance(existing, OscarMagics):
            return existing
    magics = OscarMagics(shell=ip)  # IPython's Magics.__init__ adds it to ip.configurables
    ip.register_magics(magics)
    from .completion import install
    install(ip)
    from ..spec import warm_up
    warm_up()  # %%oscar_fdl's first check would otherwise wait for jsonschema's import
    if magics not in ip.configurables:
        ip.configurables.append(magics)
    return magics


def unload_ipython_extension(ip: Any) -> None:
    """Forget the configurable (IPython keeps magics registered until restart)."""
    ip.configurables[:] = [c for c in ip.configurables if not isinstance(c, OscarMagics)]
