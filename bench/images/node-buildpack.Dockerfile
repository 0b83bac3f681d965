# node:18 as the official image is built: on buildpack-deps:bookworm. This
# adds that image's three layers (curl, scm, then the compilers and -dev
# libraries) to the e2e harness's node:18 stand-in (Debian's Node.js on
# debian:bookworm), which has none of them. For bench/split_on_buildpack.sh.
FROM node:18
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates curl gnupg netbase sq wget \
        git git-lfs mercurial openssh-client subversion procps \
        autoconf automake bzip2 default-libmysqlclient-dev dpkg-dev file g++ gcc \
        imagemagick libbz2-dev libc6-dev libcurl4-openssl-dev libdb-dev \
        libevent-dev libffi-dev libgdbm-dev libglib2.0-dev libgmp-dev libjpeg-dev \
        libkrb5-dev liblzma-dev libmagickcore-dev libmagickwand-dev \
        libmaxminddb-dev libncurses5-dev libncursesw5-dev libpng-dev libpq-dev \
        libreadline-dev libsqlite3-dev libssl-dev libtool libwebp-dev libxml2-dev \
        libxslt-dev libyaml-dev make patch unzip xz-utils zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
