# Prometheus from Debian's package, for tools/deploy/deploy_test.sh (no image registry is
# reachable where it runs; deploy/compose.yaml uses the project's prom/prometheus image).
FROM debian:bookworm-slim
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/*
USER prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
