#!/usr/bin/env bash
# Builds the Manager oracles: small servers that run grycap/oscar's own gin
# handlers (imported, never copied) over Kubernetes' fake clientset.
#   v3: github.com/grycap/oscar/v3 v3.7.1 from the Go module proxy.
#   v4: github.com/grycap/oscar/v4 v4.1.2, which the proxy does not serve:
#       built from a git clone of grycap/oscar (OSCAR_GIT_DIR, default the
#       machine's mirror) when there is one; skipped otherwise.
# One line of the Manager is changed at build time, in a copy of the module's
# source the oracle is built from (replace => ./oscar-src): RestartServer's
# 6-second sleep after asking MinIO to restart, which every create and delete
# of a service with a MinIO input waits for. The stand-in MinIO restarts nothing, so only the
# waiting goes (about 150 s of the test run); every answer is the handlers'.
# Binaries go to ORACLE_BIN_DIR (default ~/.cache/oscar-jupyter/oracle);
# Go's module and build caches (~/go, ~/.cache/go-build) make rebuilds quick.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${ORACLE_BIN_DIR:-$HOME/.cache/oscar-jupyter/oracle}"
mkdir -p "$out"
export GOFLAGS=-mod=mod

if ! command -v go >/dev/null 2>&1; then
  echo "go is not installed: the Manager oracle tests will be skipped" >&2
  exit 0
fi

build() {  # build <dir> <binary> [<git dir> <tag>]
  local work; work="$(mktemp -d)"
  cp "$1/main.go" "$1/go.mod" "$1/go.sum" "$work/"
  if [ -n "${3:-}" ]; then
    mkdir -p "$work/oscar-src"
    git -C "$3" archive "$4" go.mod go.sum pkg 2>/dev/null | tar -x -C "$work/oscar-src" || true
    [ -f "$work/oscar-src/go.mod" ] || { echo "cannot extract $4 from $3" >&2; rm -rf "$work"; return 0; }
  fi
  if [ ! -d "$work/oscar-src" ]; then  # the released module, from the module proxy
    local module dir
    module="$(sed -n 's/^\t\(github.com\/grycap\/oscar\/v[0-9]*\) .*/\1/p' "$work/go.mod" | head -1)"
    dir="$(cd "$work" && go mod download "$module" >/dev/null && go list -m -f '{{.Dir}}' "$module")" || dir=""
    if [ -n "$dir" ]; then
      cp -r "$dir" "$work/oscar-src" && chmod -R u+w "$work/oscar-src"
      (cd "$work" && go mod edit -replace "$module=./oscar-src")
    fi
  fi
  if [ -f "$work/oscar-src/pkg/utils/minio.go" ]; then
    sed -i 's/time.Sleep(6 \* time.Second)/time.Sleep(0)/' "$work/oscar-src/pkg/utils/minio.go"
  fi
  if (cd "$work" && go build -o "$out/$2.new" .); then
    mv "$out/$2.new" "$out/$2"
  else
    echo "building the $2 oracle failed: its tests will be skipped" >&2
  fi
  rm -rf "$work"
}

start=$(date +%s)
build "$here/v3" manager-v3.7.1
git_dir="${OSCAR_GIT_DIR:-/work/.mirror/grycap+oscar/repo}"
if git -C "$git_dir" rev-parse -q --verify "v4.1.2^{commit}" >/dev/null 2>&1; then
  build "$here/v4" manager-v4.1.2 "$git_dir" v4.1.2
else
  echo "no grycap/oscar clone with tag v4.1.2 at $git_dir (the module proxy does not serve" \
       "github.com/grycap/oscar/v4@v4.1.2): the v4.1.2 oracle tests will be skipped" >&2
fi
echo "Manager oracles built in $(( $(date +%s) - start )) s into $out" >&2
