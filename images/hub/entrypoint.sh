#!/bin/sh
# Starts munged (when a key is given), then runs the hub as the unprivileged user jupyterhub.
set -eu

# The sudo rule names the site's users' group: the hub may act only as its members (images/hub/sudoers.in).
group="${HPCHUB_USERS_GROUP:-}"
case "$group" in
  "" | -* | *[!A-Za-z0-9._-]*)
    echo "hub-entrypoint: HPCHUB_USERS_GROUP must name the users' group the hub submits jobs for (got '$group')" >&2
    exit 64 ;;
esac
sed "s/@USERS_GROUP@/$group/g" /usr/local/share/hpchub/sudoers.in > /etc/sudoers.d/.jupyterhub.new
chmod 0440 /etc/sudoers.d/.jupyterhub.new
visudo --check --strict --quiet --file=/etc/sudoers.d/.jupyterhub.new
mv /etc/sudoers.d/.jupyterhub.new /etc/sudoers.d/jupyterhub

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

# The directory's users (accounts_backend ldap): SSSD, when the role mounted its configuration at /etc/sssd.
# A restarted container keeps its files but none of its processes: an old pid file would stop sssd.
if [ -f /etc/sssd/sssd.conf ]; then
  # SSSD's cache starts empty with each start of the hub: a cache kept across a restart authenticated a user
  # deleted and added again with their old password. (While the hub runs, the cache serves known users when the
  # directory does not answer.) A lookup of the users' group then asks the directory before the hub takes a login.
  rm -f /run/sssd.pid /var/run/sssd.pid /var/lib/sss/db/*.ldb /var/lib/sss/mc/*
  /usr/sbin/sssd -D
  if ! timeout 10 getent group "$group" >/dev/null; then
    echo "hub-entrypoint: the directory did not answer for group $group: SSSD serves its cache until it does" >&2
  fi
fi

# Secrets as files (kept out of `docker inspect`), mounted readable by root only: a copy for the hub's user in a
# folder of its own, named by the same VAR_FILE. The hub's configuration reads them (hub_settings.secrets_from_files):
# every VAR_FILE the container was given (the role's jupyterhub_hub_secret_files), the munge key's apart.
install -d -o jupyterhub -g jupyterhub -m 0700 /run/hub-secrets
for file_var in $(env | sed -n 's/^\([A-Z0-9_]*_FILE\)=.*/\1/p' | grep -vx MUNGE_KEY_FILE); do
  var="${file_var%_FILE}"
  file="$(eval "printf '%s' \"\${${file_var}:-}\"")"
  if [ -n "$file" ]; then
    install -o jupyterhub -g jupyterhub -m 0400 "$file" "/run/hub-secrets/$var"
    export "$file_var=/run/hub-secrets/$var"
  fi
done

install -d -o jupyterhub -g jupyterhub -m 0700 /srv/jupyterhub /srv/jupyterhub/mfa /srv/jupyterhub/faillock
# The audit trail (hpchub.audit), on the hub host when the role mounts its folder here: the hub's user owns it
# and its files, whoever made them (a check of the configuration run as root writes there too).
install -d -o jupyterhub -g jupyterhub -m 0750 /var/log/jupyterhub
chown -R jupyterhub:jupyterhub /var/log/jupyterhub
cd /srv/jupyterhub
exec setpriv --reuid=jupyterhub --regid=jupyterhub --init-groups --inh-caps=-all -- "$@"
