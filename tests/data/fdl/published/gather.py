"""Rebuild this corpus from git clones of the repositories it was taken from.

    python tests/data/fdl/published/gather.py OSCAR_GIT HUB_GIT TESTS_GIT PAPI_GIT

Each argument is a git directory (bare or not) of, in order, grycap/oscar,
grycap/oscar-hub, grycap/oscar-tests and ai4os/ai4-papi. Every FDL is copied
byte for byte from the repository's newest commit that has it (HEAD, or for
files no longer on HEAD the newest tag that has them), together with the script
files it references where the repository has them; FDLs written inside the
documentation's Markdown are cut out of their code blocks. ``sources.json``
records, for every copied file, the repository, path, commit, blob and licence.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
FENCE = re.compile(r"^(\s*)```")


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True).stdout.decode(
        "utf-8", "surrogateescape")


def blob(repo: str, commit: str, path: str) -> Optional[bytes]:
    out = subprocess.run(["git", "-C", repo, "show", f"{commit}:{path}"], capture_output=True)
    return out.stdout if out.returncode == 0 else None


def is_fdl(text: str) -> bool:
    return re.search(r"(?m)^functions\s*:", text) is not None


def scripts_of(text: str) -> List[str]:
    """The `script:` values of an FDL's services (tolerant: the corpus has broken ones)."""
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return re.findall(r"(?m)^\s+script:\s*([^\s#|>]+)\s*$", text)
    found = []
    oscar = ((data or {}).get("functions") or {}).get("oscar") if isinstance(data, dict) else None
    for item in oscar if isinstance(oscar, list) else []:
        for body in (item or {}).values() if isinstance(item, dict) else []:
            script = body.get("script") if isinstance(body, dict) else None
            if isinstance(script, str) and "\n" not in script.strip() and script.strip():
                found.append(script.strip())
    return found


class Gatherer:
    def __init__(self) -> None:
        self.entries: List[Dict[str, object]] = []

    def copy(self, repo: str, name: str, commit: str, path: str, dest: Path, data: bytes,
             kind: str, licence: str, **extra: object) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        sha = git(repo, "rev-parse", f"{commit}:{path}").strip() if kind != "docs-block" else None
        entry = dict(file=str(dest.relative_to(HERE)), repo=name, path=path, commit=commit,
                     kind=kind, licence=licence)
        if sha:
            entry["blob"] = sha
        entry.update(extra)
        self.entries.append(entry)

    def fdl_with_scripts(self, repo: str, name: str, commit: str, path: str, dest: Path,
                         licence: str, kind: str = "fdl") -> None:
        data = blob(repo, commit, path)
        assert data is not None, path
        self.copy(repo, name, commit, path, dest, data, kind, licence)
        folder = str(Path(path).parent)
        for script in scripts_of(data.decode("utf-8", "replace")):
            if script.startswith("/") or ".." in Path(script).parts:
                continue
            src = f"{folder}/{script}" if folder != "." else script
            content = blob(repo, commit, src)
            if content is not None:
                self.copy(repo, name, commit, src, dest.parent / script, content, "script",
                          licence, used_by=str(dest.relative_to(HERE)))


def newest_commit_with(repo: str, path: str) -> str:
    if blob(repo, "HEAD", path) is not None:
        return git(repo, "rev-parse", "HEAD").strip()
    tags = git(repo, "tag", "--sort=-creatordate").split()
    for tag in tags:
        if blob(repo, tag, path) is not None:
            return git(repo, "rev-list", "-n1", tag).strip()
    raise LookupError(path)


def oscar(g: Gatherer, repo: str) -> None:
    name, licence = "grycap/oscar", "Apache-2.0"
    paths = set()
    for ref in ["HEAD"] + git(repo, "tag").split():
        for path in git(repo, "ls-tree", "-r", "--name-only", ref, "--", "examples", "docs").split("\n"):
            if re.search(r"\.ya?ml$", path):
                paths.add(path)
    for path in sorted(paths):
        commit = newest_commit_with(repo, path)
        data = blob(repo, commit, path) or b""
        if is_fdl(data.decode("utf-8", "replace")):
            g.fdl_with_scripts(repo, name, commit, path, HERE / "oscar" / path, licence)
    head = git(repo, "rev-parse", "HEAD").strip()
    for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD", "--", "docs").split("\n"):
        if not path.endswith(".md"):
            continue
        lines = (blob(repo, head, path) or b"").decode("utf-8").splitlines(keepends=True)
        start, block_no = None, 0
        for i, line in enumerate(lines):
            if FENCE.match(line):
                if start is None:
                    start = i
                    continue
                body = lines[start + 1:i]
                indent = len(FENCE.match(lines[start]).group(1))
                text = "".join(l[indent:] if l[:indent].strip() == "" else l for l in body)
                if is_fdl(text):
                    block_no += 1
                    dest = HERE / "oscar" / (path[:-3] + f".block{block_no}.yaml")
                    g.copy(repo, name, head, path, dest, text.encode("utf-8"), "docs-block", licence,
                           lines=f"{start + 2}-{i}")
                start = None


def hub(g: Gatherer, repo: str) -> None:
    name = "grycap/oscar-hub"
    head = git(repo, "rev-parse", "HEAD").strip()
    for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split("\n"):
        if not re.search(r"(^|/)fdl\.ya?ml$", path):
            continue
        folder = str(Path(path).parent)
        meta = blob(repo, head, f"{folder}/ro-crate-metadata.json") or b"{}"
        licences = sorted(set(re.findall(r'"SPDX:([^"]+)"', meta.decode("utf-8", "replace"))))
        g.fdl_with_scripts(repo, name, head, path, HERE / "oscar-hub" / path,
                           ", ".join(licences) or "not stated")


def oscar_tests(g: Gatherer, repo: str) -> None:
    name, licence = "grycap/oscar-tests", "Apache-2.0"
    head = git(repo, "rev-parse", "HEAD").strip()
    for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split("\n"):
        if re.search(r"\.ya?ml$", path) and is_fdl((blob(repo, head, path) or b"").decode("utf-8", "replace")):
            g.fdl_with_scripts(repo, name, head, path, HERE / "oscar-tests" / path, licence)


def papi(g: Gatherer, repo: str) -> None:
    name, licence = "ai4os/ai4-papi", "Apache-2.0"
    head = git(repo, "rev-parse", "HEAD").strip()
    path = "etc/oscar/service.yaml"
    g.copy(repo, name, head, path, HERE / "ai4-papi" / path, blob(repo, head, path), "template",
           licence)


def main(argv: List[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    g = Gatherer()
    oscar(g, argv[0])
    hub(g, argv[1])
    oscar_tests(g, argv[2])
    papi(g, argv[3])
    (HERE / "sources.json").write_text(json.dumps(g.entries, indent=1) + "\n")
    print(f"{len(g.entries)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
