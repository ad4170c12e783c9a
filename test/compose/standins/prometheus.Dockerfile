# Stand-in for the official `prom/prometheus` image: Debian's Prometheus, laid out as the official
# image is (config in /etc/prometheus, data in /prometheus owned by nobody, the same entrypoint).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN set -eux; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /prometheus /etc/prometheus; \
    chown nobody:nogroup /prometheus; \
    ln -s /usr/bin/prometheus /bin/prometheus 2>/dev/null || true
USER nobody
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
