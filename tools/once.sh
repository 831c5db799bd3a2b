#!/usr/bin/env bash
# once.sh NAME COMMAND...: run COMMAND unless it passed before on this exact tree.
#
# The key is the content of every file git would see (tracked and untracked, not ignored: `git add -A` into a
# throwaway index, then `git write-tree`) and the command line. A pass leaves .build/passed/NAME-KEY; any
# change to a file, or other arguments, is another key, and the command runs. This is why `.ci/run`'s
# `make lint test-unit` (checked to need no Docker engine) followed by `make test` runs those tiers once, not
# twice (4 min). FORCE=1 runs the command anyway.
set -euo pipefail
name=$1
shift
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  exec "$@"  # not a git checkout (an unpacked release): nothing to key on
fi
index=$(mktemp)
trap 'rm -f "$index"' EXIT
cp "$(git rev-parse --git-path index)" "$index" 2>/dev/null || true
tree=$(GIT_INDEX_FILE=$index git add -A >/dev/null 2>&1 && GIT_INDEX_FILE=$index git write-tree)
key=$(printf '%s\n' "$tree" "$@" | sha256sum | cut -c1-16)
stamp=.build/passed/$name-$key
if [[ -z ${FORCE:-} && -e $stamp ]]; then
  echo "==> $name: passed on this same tree at $(date -r "$stamp" '+%F %T') ($stamp); not run again (FORCE=1 runs it)"
  exit 0
fi
"$@"
mkdir -p .build/passed
find .build/passed -name "$name-*" -delete
touch "$stamp"
