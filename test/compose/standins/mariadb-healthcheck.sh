#!/bin/sh
# Stand-in for the official MariaDB image's healthcheck.sh, for the two checks the compose
# override names (--connect --innodb_initialized): healthy once the server answers on TCP and
# InnoDB is up, which a ping through the network port shows as well for a fresh stand-in.
exec mariadb-admin --host=127.0.0.1 --connect-timeout=3 ping --silent
