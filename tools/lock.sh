#!/usr/bin/env bash
# Refreshes every lock file: images/{notebook,hub}/requirements.txt, the local inventory's second environment
# (inventories/local/environments/numpy1.txt), tools/requirements.txt (uv) and images/proxy/package-lock.json (npm).
# Keeps current pins unless UPGRADE=1; review the diff, then
# `make images && make test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
uv=".venv/bin/uv"
upgrade=()
[ "${UPGRADE:-0}" = 1 ] && upgrade=(--upgrade)
# The images run Debian bookworm's Python 3.11 on x86_64 glibc; resolve for exactly that.
compile() {
  "$uv" pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --custom-compile-command "make lock" "${upgrade[@]}" "$@"
}
# The images' locks leave out what images/excluded-packages.txt names (the images install with --no-deps).
images=(--override images/excluded-packages.txt)
echo "==> images/notebook/requirements.txt"
compile "${images[@]}" images/notebook/requirements.in -o images/notebook/requirements.txt
echo "==> images/hub/requirements.txt (constrained by the notebook lock: one JupyterHub version)"
compile "${images[@]}" images/hub/requirements.in -c images/notebook/requirements.txt -o images/hub/requirements.txt
echo "==> inventories/local/environments/numpy1.txt (the notebook lock's pins but numpy's and pandas')"
mkdir -p .build
grep -v '^numpy==\|^pandas==' images/notebook/requirements.txt > .build/notebook-pins-but-numpy.txt
compile "${images[@]}" -c .build/notebook-pins-but-numpy.txt inventories/local/environments/numpy1.in \
  -o inventories/local/environments/numpy1.txt
echo "==> tools/requirements.txt (constrained by the hub lock: hpchub's unit tests run the hub's JupyterHub)"
compile tools/requirements.in -c images/hub/requirements.txt -o tools/requirements.txt
echo "==> images/proxy/package-lock.json"
(cd images/proxy && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error)
git --no-pager diff --stat -- images tools inventories || true
