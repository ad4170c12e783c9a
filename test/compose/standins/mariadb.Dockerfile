# Stand-in for the official `mariadb` image: Debian bookworm's MariaDB 10.11 server and client.
# zstd is left out on purpose, so the sidecar's build takes the path that installs it.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# The official image's mysql user is uid/gid 999; made first, the package keeps it.
RUN set -eux; \
    groupadd --system --gid 999 mysql; \
    useradd --system --uid 999 --gid 999 --home-dir /var/lib/mysql --no-create-home mysql; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server; \
    rm -rf /var/lib/apt/lists/* /var/lib/mysql/*; \
    sed -i 's/^bind-address/#bind-address/' /etc/mysql/mariadb.conf.d/50-server.cnf; \
    printf '[mariadbd]\nskip-name-resolve\n' > /etc/mysql/conf.d/00-standin.cnf; \
    mkdir -p /docker-entrypoint-initdb.d
COPY server-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY mariadb-healthcheck.sh /usr/local/bin/healthcheck.sh
VOLUME /var/lib/mysql
EXPOSE 3306
ENTRYPOINT ["docker-entrypoint.sh"]
CMD []
