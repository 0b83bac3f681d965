# Stands in for the official node:18-slim: Debian bookworm's Node.js 18 on
# the slim base, with npm installed as the official images have it (the
# npm package itself, under /usr/local) and without the CA bundle, git,
# curl or build tools. Debian's own npm package would bring node-gyp's
# toolchain along, which the official slim image does not have.
FROM node:18 AS npm
RUN cd /tmp && npm pack npm@10.8.2 && mkdir /npm && tar -xzf npm-10.8.2.tgz -C /npm

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs \
    && rm -rf /var/lib/apt/lists/*
COPY --from=npm /npm/package /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
# As node:18's stand-in: Node.js reads the system's CAs where a build or
# a runtime stage puts them.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
