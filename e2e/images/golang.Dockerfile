# Stands in for the official golang:1.19: Debian bookworm's Go 1.19.
FROM debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends golang-1.19-go git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV GOPATH=/go PATH=/go/bin:/usr/lib/go-1.19/bin:$PATH
WORKDIR /go
