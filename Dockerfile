# mysql-backup-sidecar. The runtime stage is the database server's own image (MYSQL_IMAGE, the
# variable compose runs the server with), so mysqldump, mysql and mysqlbinlog are exactly the
# server's: same family, same release, no package repository and no key at build time; on the
# host its layers are shared with the server's. Node comes from the node image.
#
#   docker build --build-arg MYSQL_IMAGE=mysql:8.4 -t mysql-backup-sidecar:mysql-8.4 .
#   docker build --build-arg MYSQL_IMAGE=mariadb:10.11 -t mysql-backup-sidecar:mariadb-10.11 .
#
# No `# syntax=` line: BuildKit would pull that frontend image, which fails without a registry.
ARG MYSQL_IMAGE=mysql:8.4
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS node

FROM ${MYSQL_IMAGE}
ARG MYSQL_IMAGE
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="mysql-backup-sidecar" \
      org.opencontainers.image.description="Keeps a good, recent, restorable MySQL backup: consistent verified dumps, retention, metrics and health." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="${MYSQL_IMAGE}" \
      org.opencontainers.image.licenses="MIT"
USER root
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY scripts/image-setup.sh /usr/local/lib/mysql-backup-sidecar/image-setup.sh
# zstd when the server image lacks it, the sidecar's user (uid 1000), and a check that every
# tool the sidecar runs starts and finds its libraries: a broken image fails here, not at 3 a.m.
RUN sh /usr/local/lib/mysql-backup-sidecar/image-setup.sh

WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist

# No BACKUP_DIR is created and no VOLUME declared: without a mount, `run` stops at start-up
# saying BACKUP_DIR does not exist, instead of filling an anonymous volume nobody backs up.
ENV NODE_ENV=production \
    BACKUP_DIR=/backup/mysql \
    HTTP_PORT=8437
USER 1000
EXPOSE 8437
HEALTHCHECK --interval=1m --timeout=10s --start-period=2m --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8437) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is the process docker signals (compose adds an init with `init: true`).
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["run"]
