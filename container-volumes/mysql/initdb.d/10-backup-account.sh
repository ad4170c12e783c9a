# Sourced (not executed) by the server image's entrypoint once, on the first start with an empty
# data directory: the least-privilege account the sidecar dumps as (and, with BINLOG_ARCHIVE,
# streams the binary log as: REPLICATION SLAVE), with the password compose gives both containers
# as the secret backup_db_password (set once, in .env).
# docker_process_sql passes root's password through a private file: no password on a command line.
# The image's entrypoint would execute an executable script instead, without docker_process_sql.
command -v docker_process_sql >/dev/null || { echo "10-backup-account.sh: must be sourced by the server image's entrypoint (do not make it executable)" >&2; exit 1; }
# The server initialises its data directory once: after fixing .env, empty
# container-volumes/mysql/data again, or the server starts without the backup account.
backup_password_file=${BACKUP_DB_PASSWORD_FILE:-/run/secrets/backup_db_password}
[ -r "$backup_password_file" ] || { echo "10-backup-account.sh: $backup_password_file is missing or unreadable (BACKUP_DB_PASSWORD in .env, the secret in docker-compose.yaml)" >&2; exit 1; }
backup_password=$(cat "$backup_password_file")
[ -n "$backup_password" ] || { echo "10-backup-account.sh: BACKUP_DB_PASSWORD is empty: set it in .env, empty container-volumes/mysql/data and start again" >&2; exit 1; }
# Quote for SQL: backslashes and single quotes doubled.
backup_password=${backup_password//\\/\\\\}
backup_password=${backup_password//\'/\'\'}
docker_process_sql --database=mysql <<-EOSQL
	CREATE USER IF NOT EXISTS 'backup'@'%' IDENTIFIED BY '${backup_password}';
	GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, RELOAD, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'backup'@'%';
EOSQL
unset backup_password backup_password_file
