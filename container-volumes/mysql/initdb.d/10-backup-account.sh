# Sourced (not executed) by the MySQL image's entrypoint once, on the first start with an empty
# data directory: the least-privilege account the sidecar dumps as. docker_process_sql passes
# root's password through a private file, so no password appears on a command line.
backup_password=${BACKUP_DB_PASSWORD:?BACKUP_DB_PASSWORD must be set (see .env.example)}
# Quote for SQL: backslashes and single quotes doubled.
backup_password=${backup_password//\\/\\\\}
backup_password=${backup_password//\'/\'\'}
docker_process_sql --database=mysql <<-EOSQL
	CREATE USER IF NOT EXISTS 'backup'@'%' IDENTIFIED BY '${backup_password}';
	GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, RELOAD, REPLICATION CLIENT ON *.* TO 'backup'@'%';
EOSQL
unset backup_password
