# syntax=docker/dockerfile:1
# mysql-backup-sidecar: build the TypeScript in one stage, run from a slim image with only the
# production dependencies and the client tools of the server it dumps.
#
#   docker build -t mysql-backup-sidecar .                                   # MySQL 8.0.40 client tools
#   docker build --build-arg MYSQL_VERSION=8.0.36 -t mysql-backup-sidecar .  # match your server
#   docker build --build-arg CLIENT_FLAVOUR=mariadb -t mysql-backup-sidecar:mariadb .  # MariaDB servers
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci can refuse npm 11's own lockfile (npm/cli#4828); npm install takes the same pinned versions.
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
# mysql: MySQL's own client tools at exactly MYSQL_VERSION (a MariaDB mysqldump against MySQL 8
# is a known source of broken dumps). mariadb: Debian's MariaDB client tools.
ARG CLIENT_FLAVOUR=mysql
ARG MYSQL_VERSION=8.0.40
ARG MYSQL_APT_COMPONENT=mysql-8.0
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="mysql-backup-sidecar" \
      org.opencontainers.image.description="Keeps a good, recent, restorable MySQL backup: consistent verified dumps, retention, metrics and health." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates gnupg dirmngr zstd tini; \
    case "$CLIENT_FLAVOUR" in \
      mysql) \
        export GNUPGHOME="$(mktemp -d)"; \
        key=BCA43417C3B485DD128EC6D4B7B3B788A8D3785C; \
        gpg --batch --keyserver hkps://keyserver.ubuntu.com --recv-keys "$key"; \
        mkdir -p /etc/apt/keyrings; \
        gpg --batch --export "$key" > /etc/apt/keyrings/mysql.gpg; \
        gpgconf --kill all; rm -rf "$GNUPGHOME"; \
        echo "deb [signed-by=/etc/apt/keyrings/mysql.gpg] http://repo.mysql.com/apt/debian/ bookworm ${MYSQL_APT_COMPONENT}" \
          > /etc/apt/sources.list.d/mysql.list; \
        apt-get update; \
        apt-get install -y --no-install-recommends "mysql-community-client=${MYSQL_VERSION}-1debian12"; \
        ;; \
      mariadb) apt-get install -y --no-install-recommends mariadb-client ;; \
      *) echo "CLIENT_FLAVOUR must be mysql or mariadb, not $CLIENT_FLAVOUR" >&2; exit 1 ;; \
    esac; \
    apt-get purge -y --auto-remove gnupg dirmngr; \
    rm -rf /var/lib/apt/lists/*; \
    mysqldump --version

WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN mkdir -p /backup/mysql && chown node:node /backup/mysql

ENV NODE_ENV=production \
    BACKUP_DIR=/backup/mysql \
    HTTP_PORT=8437
USER node
EXPOSE 8437
VOLUME ["/backup/mysql"]
HEALTHCHECK --interval=1m --timeout=10s --start-period=2m --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8437) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini as PID 1 forwards SIGTERM to node and reaps; exec form, so no shell sits in between.
ENTRYPOINT ["tini", "--", "node", "/app/dist/cli.js"]
CMD ["run"]
