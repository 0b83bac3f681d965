# Stands in for the official rust:1.85 on trixie: Debian trixie's Rust 1.85
# and Cargo, with CARGO_HOME=/usr/local/cargo as the official image sets it.
FROM debian:trixie
RUN apt-get update \
    && apt-get install -y --no-install-recommends cargo rustc gcc libc6-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /usr/local/cargo/bin \
    && chmod -R a+w /usr/local/cargo
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
CMD ["bash"]
