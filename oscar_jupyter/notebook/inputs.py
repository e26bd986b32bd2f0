"""Turning the words of a magic line into data: variables, paths, globs, literals."""
from __future__ import annotations

import difflib
import glob
import json
import os
import shlex
from pathlib import Path
from typing import Any, FrozenSet, List, Mapping

from .. import errors

_MISSING = object()


def _variable(word: str, namespace: Mapping[str, Any]) -> Any:
    if word.isidentifier() and word in namespace:
        return namespace[word]
    head, _, rest = word.partition(".")
    if rest and head.isidentifier() and head in namespace:
        value = namespace[head]
        for part in rest.split("."):
            if not part.isidentifier() or not hasattr(value, part):
                return _MISSING
            value = getattr(value, part)
        return value
    return _MISSING


def _looks_like_path(word: str) -> bool:
    return ("/" in word or os.sep in word or word.startswith(("~", "."))
            or (Path(word).suffix != "" and " " not in word and not word.replace(".", "").isdigit()))


def quoted_words(line: str) -> FrozenSet[str]:
    """The words of a magic line that were written in quotes (``'x'`` or ``"x"``),
    as the shell-like split gives them: a quoted word is meant as text."""
    try:
        tokens = shlex.split(line, posix=False)
    except ValueError:
        return frozenset()
    return frozenset(t[1:-1] for t in tokens if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"")


def _looks_like_name(word: str) -> bool:
    return all(part.isidentifier() for part in word.split("."))


def _variables(namespace: Mapping[str, Any]) -> List[str]:
    return [k for k in namespace if isinstance(k, str) and not k.startswith("_")
            and k not in ("In", "Out", "exit", "quit", "get_ipython")]


def one(word: str, namespace: Mapping[str, Any], *, text: bool = False) -> Any:
    """The data a single INPUT word stands for.

    In order: a notebook variable (or `var.attr`), an existing file (as a
    `Path`), a JSON literal (number, object, list, quoted string), else the word
    as text. A word that looks like a file path, or like a variable name, but
    names nothing is an error (naming the variables it may have meant), so a
    typo is not sent as text; `text=True` (a quoted word, or --text) sends the
    word as it is.
    """
    if text:
        return word
    value = _variable(word, namespace)
    if value is not _MISSING:
        return value
    path = Path(word).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise errors.InvalidInput(f"{word!r} is a folder, not a file.",
                                  hint="Use `%oscar map` or `%oscar job` for a folder of inputs.")
    try:
        return json.loads(word)
    except ValueError:
        pass
    if _looks_like_path(word):
        raise errors.InvalidInput(f"No variable or file named {word!r}.",
                                  hint="Check the name; use --text to send it as literal text.")
    if _looks_like_name(word):
        close = difflib.get_close_matches(word, _variables(namespace), n=3, cutoff=0.6)
        meant = f" Did you mean {', '.join(close)}?" if close else ""
        raise errors.InvalidInput(f"No variable or file named {word!r}.{meant}",
                                  hint=f"To send the word itself as text, quote it ('{word}') or add --text.")
    return word


def many(words: List[str], namespace: Mapping[str, Any]) -> List[Any]:
    """The list of inputs that words stand for: list variables, folders, globs, files."""
    out: List[Any] = []
    for word in words:
        value = _variable(word, namespace)
        if value is not _MISSING:
            if isinstance(value, (str, bytes, bytearray, Mapping)) or not hasattr(value, "__iter__"):
                out.append(value)
            else:
                out.extend(value)
            continue
        path = Path(word).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not files:
                raise errors.InvalidInput(f"The folder {word!r} has no files.")
            out.extend(files)
        elif path.is_file():
            out.append(path)
        elif glob.has_magic(word):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(word)) if os.path.isfile(m))
            if not matches:
                raise errors.InvalidInput(f"No file matches {word!r}.")
            out.extend(matches)
        else:
            raise errors.InvalidInput(f"No variable, folder, file or pattern named {word!r}.",
                                      hint="Inputs are a list variable, a folder, files or a glob.")
    return out
