# A current Docker engine (Debian trixie: Docker 26, BuildKit with heredocs,
# COPY --link and cache mounts), run as a container by the bootstrap engine.
FROM debian:trixie
RUN apt-get update \
    && apt-get install -y --no-install-recommends docker.io docker-cli docker-buildx iptables ca-certificates \
    && rm -rf /var/lib/apt/lists/*
