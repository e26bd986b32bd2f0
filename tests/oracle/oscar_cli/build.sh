#!/usr/bin/env bash
# Builds oscar-cli, the OSCAR project's client, at a released version, for
# tests/integration/test_oscar_cli.py (imported from its module, never copied):
#   1. `go install github.com/grycap/oscar-cli@<version>` from the Go module proxy;
#   2. where the proxy does not serve it, from a git clone of grycap/oscar-cli
#      (OSCAR_CLI_GIT_DIR, default the machine's mirror) at that tag; its
#      dependencies (github.com/grycap/oscar/v3 v3.3.0 among them) still come
#      from the proxy;
#   3. otherwise nothing, and the tests are skipped saying why.
# The binary goes to ORACLE_BIN_DIR (default ~/.cache/oscar-jupyter/oracle) as
# oscar-cli; Go's caches make rebuilds quick.
set -euo pipefail
version="${OSCAR_CLI_VERSION:-v1.12.2}"
out="${ORACLE_BIN_DIR:-$HOME/.cache/oscar-jupyter/oracle}"
mkdir -p "$out"
export GOFLAGS=-mod=mod

if ! command -v go >/dev/null 2>&1; then
  echo "go is not installed: the oscar-cli tests will be skipped" >&2
  exit 0
fi
start=$(date +%s)
log="$(mktemp)"
if GOBIN="$out" go install "github.com/grycap/oscar-cli@${version}" 2>"$log"; then
  echo "oscar-cli ${version} installed from the module proxy in $(( $(date +%s) - start )) s" >&2
  rm -f "$log"
  exit 0
fi
echo "the module proxy does not serve github.com/grycap/oscar-cli@${version} ($(tail -n 1 "$log" | sed 's/^[[:space:]]*//'))" >&2
rm -f "$log"
git_dir="${OSCAR_CLI_GIT_DIR:-/work/.mirror/grycap+oscar-cli/repo}"
if ! git -C "$git_dir" rev-parse -q --verify "${version}^{commit}" >/dev/null 2>&1; then
  echo "no grycap/oscar-cli clone with tag ${version} at ${git_dir}: the oscar-cli tests will be skipped" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git -C "$git_dir" archive "$version" | tar -x -C "$work"
if (cd "$work" && go build -buildvcs=false -o "$out/oscar-cli.new" \
      -ldflags "-X github.com/grycap/oscar-cli/cmd.Version=${version}" .); then
  mv "$out/oscar-cli.new" "$out/oscar-cli"
  echo "oscar-cli ${version} built from ${git_dir} in $(( $(date +%s) - start )) s into ${out}" >&2
else
  echo "building oscar-cli ${version} failed: the oscar-cli tests will be skipped" >&2
fi
