#!/bin/bash
# Entrypoint of the local MySQL and MariaDB stand-in images (scripts/compose-standins.sh). It does
# what this project's compose stack relies on from the official images' docker-entrypoint.sh, and
# no more: the root password from MYSQL_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD, or either's
# _FILE), and on the first start with an empty data directory, each /docker-entrypoint-initdb.d/*.sh
# sourced with docker_process_sql defined (run, when executable) and each *.sql run; then the
# server runs as `mysql`. As in the official images, everything after the first lines runs as
# the `mysql` user (uid 999), so the secrets must be readable by it.
set -euo pipefail

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock
if [ "$(id -u)" = 0 ]; then
  mkdir -p /run/mysqld /var/lib/mysql-files
  chown mysql:mysql /run/mysqld /var/lib/mysql-files "$datadir"
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

file_env() {
  local name=$1 file_name="${1}_FILE"
  if [ -n "${!file_name:-}" ]; then
    export "$name"="$(<"${!file_name}")"
  fi
}
file_env MYSQL_ROOT_PASSWORD
file_env MARIADB_ROOT_PASSWORD
root_password=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}

if command -v mariadbd >/dev/null; then
  server=mariadbd client=mariadb
else
  server=mysqld client=mysql
fi
# As the official images do: quote for SQL by doubling ' and \; for an option file, escape \ and ".
sql_quote() { local v=${1//\\/\\\\}; printf '%s' "${v//\'/\'\'}"; }
cnf_quote() { local v=${1//\\/\\\\}; printf '%s' "${v//\"/\\\"}"; }

docker_process_sql() {
  "$client" --defaults-extra-file="$root_cnf" --protocol=socket --socket="$socket" --comments "$@"
}

if [ ! -d "$datadir/mysql" ]; then
  [ -n "$root_password" ] || { echo "server-entrypoint: the data directory is empty and MYSQL_ROOT_PASSWORD is not set" >&2; exit 1; }
  echo "server-entrypoint: initializing $datadir with $server"
  if [ "$server" = mysqld ]; then
    mysqld --initialize-insecure --user=mysql --datadir="$datadir"
  else
    mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
      --skip-test-db >/dev/null
  fi
  "$server" --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
  pid=$!
  for _ in $(seq 120); do
    "$client" --protocol=socket --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "server-entrypoint: the server did not start" >&2; exit 1; }
    sleep 0.5
  done
  "$client" --protocol=socket --socket="$socket" -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$(sql_quote "$root_password")';
CREATE USER 'root'@'%' IDENTIFIED BY '$(sql_quote "$root_password")';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
  root_cnf=$(mktemp)
  printf '[client]\nuser=root\npassword="%s"\n' "$(cnf_quote "$root_password")" >"$root_cnf"
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      # The official images' rule: executable scripts run on their own, the others are sourced.
      *.sh) if [ -x "$f" ]; then echo "server-entrypoint: running $f"; "$f"; else echo "server-entrypoint: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "server-entrypoint: running $f"; docker_process_sql <"$f" ;;
      *) ;;
    esac
  done
  rm -f "$root_cnf"
  kill "$pid"
  wait "$pid" || true
  echo "server-entrypoint: initialized"
fi

exec "$server" --user=mysql --datadir="$datadir" "$@"
