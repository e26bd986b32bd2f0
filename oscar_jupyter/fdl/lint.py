"""Script lint: bash-only constructs that fail under ``/bin/sh`` (dash), which OSCAR uses.

The script is read the way the shell reads it, one line at a time with the
state carried over: text inside single quotes, inside double quotes (except
the ``$``-expansions there), in comments and in here-document bodies
(``<<EOF``, ``<<'EOF'``, ``<<"EOF"``, ``<<\\EOF``, ``<<-EOF``) is data, not
shell code, and is blanked before the patterns run. So ``python3 -c "..."``
programs, ``[[`` in a message and a Python here-document raise no warning,
while the same constructs as shell code do. Blanking keeps every column, so
a warning points at the construct in the original line.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

from ..spec import Problem

_BASHISMS: List[Tuple[re.Pattern, str]] = [
    (re.compile(r"(^|[\s;&|(!])\[\[(\s|$)"), "`[[ ... ]]` is bash-only: use `[ ... ]` (or `case`)"),
    (re.compile(r"\bset\s+(-[A-Za-z]+\s+)*-[A-Za-z]*o\s*pipefail\b|\bset\s+-o\s+pipefail\b"),
     "`set -o pipefail` is not supported by dash: drop it or check each command's status"),
    (re.compile(r"(^|[\s;&|])[A-Za-z_][A-Za-z0-9_]*\+?=\("), "arrays `a=(...)` are bash-only: "
     "use `set -- a b c` and \"$@\", or a space-separated string"),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\["), "array expansion `${a[...]}` is bash-only"),
    (re.compile(r"(^|[\s;&|])(declare|typeset|readarray|mapfile|shopt|pushd|popd)\s"),
     "`{word}` is a bash builtin dash does not have"),
    (re.compile(r"(^|[;&|{]\s*|^\s*)function\s+[A-Za-z_][\w-]*"),
     "`function f` is bash syntax: write `f() { ...; }`"),
    (re.compile(r"(^|[;&|]\s*|^\s*|\bthen\s+|\bdo\s+)source\s+\S"),
     "`source` is bash-only: use `. file`"),
    (re.compile(r"(^|[\s;&|!])(\[|test)\s[^\]]*\s==\s"), "`==` inside `[ ]` fails in dash: use `=`"),
    (re.compile(r"&>"), "`&>` redirection is bash-only: use `>file 2>&1`"),
    (re.compile(r"<<<"), "here-strings `<<<` are bash-only: use `printf '%s\\n' ... |`"),
    (re.compile(r"\$'"), "`$'...'` quoting is bash-only: use `printf`"),
    (re.compile(r"\{-?\w+\.\.-?\w+(\.\.-?\d+)?\}"), "brace expansion `{a..b}` is bash-only: "
     "use `seq` or a `while` loop"),
    (re.compile(r"(^|[\s;&|])\(\(.*\)\)"), "`(( ... ))` arithmetic commands are bash-only: "
     "use `[ $((...)) -ne 0 ]`"),
    (re.compile(r"(^|[\s;&|])let\s+\w"), "`let` is bash-only: use `x=$((...))`"),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:(\s+-)?\d+(:\d+)?\}"),
     "substring expansion `${v:offset:len}` is bash-only: use `cut` or `expr`"),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*//?[^}]*/[^}]*\}"),
     "pattern substitution `${v/a/b}` is bash-only: use `sed`"),
    (re.compile(r"(^|[\s;&|])echo\s+-e\s"), "dash's `echo` has no `-e` (it prints it): use `printf`"),
    (re.compile(r"\$RANDOM\b"), "`$RANDOM` is empty in dash"),
]

#: A here-document operator and its delimiter word, quoted or not.
_HEREDOC = re.compile(r"<<(-?)[ \t]*(\\?)(['\"]?)([A-Za-z_][\w.-]*)\3")
#: A `$`-expansion inside double quotes: kept, it is shell code there too.
_EXPANSION = re.compile(r"\$(\{[^}\"]*\}?|[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])")


class _Scanner:
    """Blanks what is data (quoted text, comments, here-document bodies), line by line."""

    def __init__(self) -> None:
        self.quote: Optional[str] = None       # "'" or '"' (or "$'") open across lines
        self.heredocs: List[Tuple[str, bool]] = []  # pending (delimiter, strip tabs)
        self.in_heredoc: Optional[Tuple[str, bool]] = None

    def mask(self, line: str) -> Optional[str]:
        """The line with data blanked (same length), or None when all of it is data."""
        if self.in_heredoc is not None:
            word, strip_tabs = self.in_heredoc
            text = line.lstrip("\t") if strip_tabs else line
            if text.rstrip() == word:
                self.in_heredoc = self.heredocs.pop(0) if self.heredocs else None
            return None
        out: List[str] = []
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if self.quote == "'" or self.quote == "$'":
                if ch == "\\" and self.quote == "$'" and i + 1 < n:
                    out.append("  ")
                    i += 2
                    continue
                if ch == "'":
                    self.quote = None
                    out.append(ch)
                else:
                    out.append(" ")
                i += 1
                continue
            if self.quote == '"':
                if ch == "\\" and i + 1 < n:
                    out.append("  ")
                    i += 2
                    continue
                if ch == '"':
                    self.quote = None
                    out.append(ch)
                    i += 1
                    continue
                if ch == "$":
                    found = _EXPANSION.match(line, i)
                    if line.startswith("$(", i):  # command substitution: shell code again
                        end = _closing(line, i + 1)
                        out.append(line[i:end])
                        i = end
                        continue
                    if found:
                        out.append(found.group(0))
                        i = found.end()
                        continue
                out.append(" ")
                i += 1
                continue
            # shell code
            if ch == "\\" and i + 1 < n:
                out.append(line[i:i + 2])
                i += 2
                continue
            if ch == "#" and (i == 0 or line[i - 1] in " \t;&|()"):
                break  # a comment: the rest of the line
            if ch == "'":
                self.quote = "$'" if i > 0 and line[i - 1] == "$" and not _escaped(line, i - 1) else "'"
                out.append(ch)
                i += 1
                continue
            if ch == '"':
                self.quote = '"'
                out.append(ch)
                i += 1
                continue
            if line.startswith("<<", i) and not line.startswith("<<<", i) and (i == 0 or line[i - 1] != "<"):
                doc = _HEREDOC.match(line, i)
                if doc:
                    self.heredocs.append((doc.group(4), doc.group(1) == "-"))
                    out.append(doc.group(0))
                    i = doc.end()
                    continue
            out.append(ch)
            i += 1
        if self.quote is None and self.heredocs and self.in_heredoc is None:
            self.in_heredoc = self.heredocs.pop(0)
        return "".join(out).ljust(n)


def _escaped(line: str, i: int) -> bool:
    """True when the character at `i` follows an odd number of backslashes."""
    count = 0
    while i > 0 and line[i - 1] == "\\":
        count += 1
        i -= 1
    return count % 2 == 1


def _closing(line: str, start: int) -> int:
    """Index after the parenthesis that closes the one at `start` (or the line's end)."""
    depth = 0
    for j in range(start, len(line)):
        if line[j] == "(":
            depth += 1
        elif line[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(line)


def lint_script(script: str) -> List[Problem]:
    """Warnings for bash-only constructs: OSCAR runs every script with ``/bin/sh``.

    On the Debian and Ubuntu based images most services use, /bin/sh is dash,
    where these fail; a ``#!/bin/bash`` first line does not help because the
    supervisor calls ``/bin/sh script`` explicitly. Each warning carries the
    script line number in `line` (column of the construct in `column`).
    """
    problems: List[Problem] = []
    lines = script.replace("\r\n", "\n").split("\n")
    scanner = _Scanner()
    for number, raw_line in enumerate(lines, start=1):
        if number == 1 and raw_line.startswith("#!"):
            continue
        masked = scanner.mask(raw_line)
        if masked is None or not masked.strip():
            continue
        for pattern, advice in _BASHISMS:
            found = pattern.search(masked)
            if found:
                word = found.group(2) if "{word}" in advice else ""
                message = advice.replace("{word}", word)
                problems.append(Problem(("script",), f"script line {number}: {message}",
                                        severity="warning", line=number,
                                        column=found.start() + 1 + (len(found.group(1) or "")
                                                                    if found.groups() else 0)))
    if problems:
        first = lines[0] if lines else ""
        if first.startswith("#!") and "bash" in first:
            problems.append(Problem(("script",), f"script line 1: the `{first.strip()}` line does "
                                    "not help: OSCAR runs the script with /bin/sh (dash on Debian "
                                    "and Ubuntu images)", severity="warning", line=1, column=1))
    return problems
