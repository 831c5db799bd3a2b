#!/bin/bash
# A fresh cluster: database jupyterhub owned by user hub, password from POSTGRES_PASSWORD, scram over TCP.
set -euo pipefail
data=/var/lib/postgresql/data
bin=/usr/lib/postgresql/15/bin
"$bin/initdb" --pgdata="$data" --encoding=UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 --username=postgres >/dev/null
echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
"$bin/pg_ctl" --pgdata="$data" --options="-c listen_addresses=''" --wait start >/dev/null
psql --quiet --set=ON_ERROR_STOP=1 --set=pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE USER hub PASSWORD :'pw';
CREATE DATABASE jupyterhub OWNER hub;
SQL
"$bin/pg_ctl" --pgdata="$data" --wait stop >/dev/null
exec "$bin/postgres" -D "$data" -c listen_addresses='*'
