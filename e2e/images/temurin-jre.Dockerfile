# Stands in for the official eclipse-temurin:17-jre: Debian bookworm's
# OpenJDK 17 runtime on the slim image, with the same JAVA_HOME as the
# maven stand-in (the official images share /opt/java/openjdk).
FROM debian:bookworm-slim
# The slim image has no man directories, which the JRE's alternatives need.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
