# Stand-in for the official `mysql` image: Debian's MySQL server and client packages from the
# unstable suite (scripts/mysql-root.sh builds that root; the script imports it as ROOT_IMAGE).
# The official image ships zstd too (its Dockerfile installs it with microdnf), so this one does.
ARG ROOT_IMAGE
FROM ${ROOT_IMAGE}
RUN set -eux; \
    groupadd --system --gid 999 mysql; \
    useradd --system --uid 999 --gid 999 --home-dir /var/lib/mysql --no-create-home mysql; \
    mkdir -p /etc/mysql/conf.d /docker-entrypoint-initdb.d /var/lib/mysql; \
    printf '[mysqld]\nskip-name-resolve\n!includedir /etc/mysql/conf.d/\n' > /etc/mysql/my.cnf; \
    apt-get -o Acquire::Check-Valid-Until=false update -qq; \
    apt-get install -y -qq --no-install-recommends zstd; \
    rm -rf /var/lib/apt/lists/*
COPY server-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/mysql
EXPOSE 3306 33060
ENTRYPOINT ["docker-entrypoint.sh"]
CMD []
