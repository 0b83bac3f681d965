# Stands in for the official node:18: Debian bookworm's Node.js 18 and npm,
# on the full (not slim) base with git and curl, as the official image has.
FROM debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm git curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# Node.js reads its own CA list; add the system's (which holds the host CA
# when the harness runs with --trust-host-ca).
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
