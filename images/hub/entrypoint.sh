#!/bin/sh
# Starts munged (when a key is given), then runs the hub as the unprivileged user jupyterhub.
set -eu

key_src="${MUNGE_KEY_FILE:-/run/secrets/munge.key}"
if [ -r "$key_src" ]; then
  # A copy owned by munge whatever the owner of the mounted file; never logged.
  install -o munge -g munge -m 0400 "$key_src" /etc/munge/munge.key
fi
if [ -s /etc/munge/munge.key ]; then
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
else
  echo "hub-entrypoint: no munge key at $key_src: Slurm commands will fail until one is mounted" >&2
fi

# The proxy's API token as a file (kept out of `docker inspect`); exported only to the hub process.
if [ -n "${CONFIGPROXY_AUTH_TOKEN_FILE:-}" ]; then
  CONFIGPROXY_AUTH_TOKEN="$(cat "$CONFIGPROXY_AUTH_TOKEN_FILE")"
  export CONFIGPROXY_AUTH_TOKEN
fi

install -d -o jupyterhub -g jupyterhub -m 0700 /srv/jupyterhub
cd /srv/jupyterhub
exec setpriv --reuid=jupyterhub --regid=jupyterhub --init-groups --inh-caps=-all -- "$@"
