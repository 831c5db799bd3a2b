#!/usr/bin/env bash
# Prerequisites of hpc-jupyterhub-deploy, installed where missing, on a fresh Debian or Ubuntu machine:
#   - the Docker engine from the distribution (docker.io), started when no daemon answers;
#   - debootstrap (builds the base image where no registry can be reached);
#   - chromium and its chromedriver (the end-to-end test in a real browser);
#   - .venv: the pinned tooling of tools/requirements.txt (ansible, docker SDK, pytest, linters, uv) and the
#     hub's package hpchub (hub_config/, editable: the unit tests import it).
# `prerequisites.sh venv` does only the last: what `make lint` and `make test-unit` need, no Docker, no
# daemon started, nothing installed outside .venv (python3 with venv must be there).
# Idempotent and quiet when everything is in place. Elsewhere it says what to install and stops.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$here/.venv}"
lock="$here/tools/requirements.txt"
hpchub="$here/hub_config"
log_dir="${PREREQ_LOG_DIR:-/var/log/hpc-jupyterhub-deploy}"
docker_wait="${DOCKER_WAIT_SECONDS:-60}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

is_root() { [ "$(id -u)" -eq 0 ]; }
docker_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v git >/dev/null 2>&1 || missing+=(git)
  # The end-to-end browser test drives Debian's chromium through its chromedriver.
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]} and this is not Debian/Ubuntu: install Docker (engine and CLI), debootstrap, git, python3 with venv, chromium and chromedriver, then run again"
  fi
  if ! is_root; then
    die "missing ${missing[*]}: run \`make prerequisites\` as root, or: sudo apt-get install ${missing[*]}"
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_docker() {
  docker_answers && return 0
  is_root || die "no Docker engine answers and this is not root: start dockerd, or run \`make prerequisites\` as root"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    say "starting the Docker engine (systemctl start docker)"
    systemctl start docker || true
  fi
  if ! docker_answers && ! pgrep -x dockerd >/dev/null 2>&1; then
    mkdir -p "$log_dir"
    say "starting the Docker engine (dockerd, log: $log_dir/dockerd.log)"
    nohup dockerd >>"$log_dir/dockerd.log" 2>&1 </dev/null &
    # Containers' lives (Docker keeps only its last 256 events, healthchecks' among them): what the local cluster's
    # boot wait shows of a node that does not boot (roles/test_cluster/tasks/boot.yml).
    nohup bash -c 'until docker info >/dev/null 2>&1; do sleep 0.5; done; exec docker events --filter type=container \
      --filter event=create --filter event=start --filter event=kill --filter event=die --filter event=stop \
      --filter event=destroy --filter event=restart --filter event=oom \
      --format "{{.Time}} {{.Action}} {{.Actor.Attributes.name}} {{printf \"%.12s\" .Actor.ID}}{{with .Actor.Attributes.exitCode}} exit={{.}}{{end}}{{with .Actor.Attributes.signal}} signal={{.}}{{end}}"' \
      >>"$log_dir/docker-events.log" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + docker_wait))
  until docker_answers; do
    [ $SECONDS -lt $deadline ] || die "dockerd did not answer within ${docker_wait} s: see $log_dir/dockerd.log"
    sleep 0.5
  done
}

install_venv() {
  local stamp="$venv/.requirements.sha256" want
  want="$(cat "$lock" "$hpchub/pyproject.toml" "$here/packages/hpc-slurm/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "installing the pinned tooling into ${venv#"$here"/} (tools/requirements.txt)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # uv installs the locked set in seconds; it is itself pinned in the lock.
  local uv_pin
  uv_pin="$(grep -E '^uv==' "$lock")" || die "tools/requirements.txt pins no uv: run \`make lock\`"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$uv_pin"
  UV_INDEX_URL="${PIP_INDEX_URL:-${UV_INDEX_URL:-}}" \
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$lock"
  # hpchub's dependencies are in the lock (the hub image's versions); the package itself, and the Slurm layer
  # it shares with the notebook side, are the source tree.
  UV_INDEX_URL="${PIP_INDEX_URL:-${UV_INDEX_URL:-}}" \
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" --no-deps \
      --editable "$here/packages/hpc-slurm" --editable "$hpchub"
  echo "$want" >"$stamp"
}

case "${1:-all}" in
  venv)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 \
      || die "python3 with venv is missing: apt-get install python3-venv (or run \`make prerequisites\` as root)"
    install_venv ;;
  all)
    install_packages
    start_docker
    install_venv ;;
  *) die "usage: prerequisites.sh [all|venv]" ;;
esac
