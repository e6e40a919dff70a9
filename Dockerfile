# The mlopsctl image, published as ghcr.io/mlopsctl/mlopsctl:<version> (the
# crate's version): README, "Container image". deploy/ runs it by that name.
#
#   docker build --build-arg MLOPSCTL_COMMIT=$(git rev-parse --short=12 HEAD) \
#     -t ghcr.io/mlopsctl/mlopsctl:0.1.0 .
#
# tests/dockerfile.rs checks the shape this file must keep: two stages, the
# release binary built --locked, a pinned runtime base, a non-root user and
# an exec-form ENTRYPOINT.

# Both stages are Debian 12: the binary links the builder's glibc and libssl3,
# and the runtime base ships the same ones.
FROM docker.io/library/rust:1.95.0-bookworm AS builder
# rdkafka compiles its bundled librdkafka (./configure + make, no cmake) with
# OpenSSL headers found through pkg-config. The rust image has most of these
# already; naming them keeps the build working if it stops having them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc make pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads, so editing tests or fixtures keeps the cache.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY checks checks
COPY benches benches
# The context has no .git, so build.rs is told the commit `--version` prints.
ARG MLOPSCTL_COMMIT=unknown
# zlib is compiled in (rdkafka's libz-static): distroless has no libz.so.1.
# OpenSSL stays dynamic, so a rebuilt base image brings its security fixes.
RUN cargo build --release --locked --features rdkafka/libz-static

# glibc, libgcc, libssl3 and CA certificates, no shell and no package manager;
# the :nonroot variant's user is 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="mlopsctl" \
      org.opencontainers.image.description="Diagnose and repair MLOps platforms on Kubernetes" \
      org.opencontainers.image.source="https://github.com/mlopsctl/mlopsctl" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /src/target/release/mlopsctl /usr/local/bin/mlopsctl
# Numeric, so the kubelet can verify `runAsNonRoot` without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mlopsctl"]
CMD ["--help"]
