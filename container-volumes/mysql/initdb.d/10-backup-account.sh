# Sourced (not executed) by the server image's entrypoint once, on the first start with an empty
# data directory: the least-privilege account the sidecar dumps as, with the password compose
# gives both containers as the secret backup_db_password (set once, in .env).
# docker_process_sql passes root's password through a private file: no password on a command line.
backup_password_file=${BACKUP_DB_PASSWORD_FILE:-/run/secrets/backup_db_password}
[ -r "$backup_password_file" ] || { echo "10-backup-account.sh: $backup_password_file is missing (set BACKUP_DB_PASSWORD in .env)" >&2; exit 1; }
backup_password=$(cat "$backup_password_file")
[ -n "$backup_password" ] || { echo "10-backup-account.sh: BACKUP_DB_PASSWORD is empty (set it in .env)" >&2; exit 1; }
# Quote for SQL: backslashes and single quotes doubled.
backup_password=${backup_password//\\/\\\\}
backup_password=${backup_password//\'/\'\'}
docker_process_sql --database=mysql <<-EOSQL
	CREATE USER IF NOT EXISTS 'backup'@'%' IDENTIFIED BY '${backup_password}';
	GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, RELOAD, REPLICATION CLIENT ON *.* TO 'backup'@'%';
EOSQL
unset backup_password backup_password_file
