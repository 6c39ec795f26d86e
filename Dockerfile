# syntax=docker/dockerfile:1.19.0
#
# One recipe for every service; the build arg SERVICE picks the binary:
#   docker build --build-arg SERVICE=auth -t users/auth .
# SERVICE is one of: auth, user-soap, session, images, user-lookup, connected, notifications (package name =
# binary name). docker-compose.yml passes it per service.

# Every base image is pinned to an exact release (tests/tests/it/compose.rs checks): a rebuild
# gets the same toolchain and the same Debian, and an upgrade is a reviewed one-line change.
ARG RUST_VERSION=1.95.0

# --- build -------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build
ARG SERVICE
# The commit shown by the hub_build_info metric: --build-arg HUB_GIT_COMMIT=$(git rev-parse --short=12 HEAD)
ARG HUB_GIT_COMMIT=unknown
RUN test -n "$SERVICE" \
 || { echo 'build with --build-arg SERVICE=<auth|user-soap|session|images|user-lookup|connected|notifications>' >&2; exit 1; }

WORKDIR /src
# sqlx's query macros check against the committed .sqlx/ metadata, not a live database.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never \
    HUB_GIT_COMMIT=${HUB_GIT_COMMIT}
COPY . .

# BuildKit cache mounts keep the crate registry and target/ between builds, and the six services
# share them (their dependencies overlap almost entirely; cargo's own lock serialises parallel
# builds). A cache mount is not part of the image, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p "$SERVICE" \
 && cp "target/release/$SERVICE" /usr/local/bin/app

# --- runtime -----------------------------------------------------------------------------------
# Same Debian release as the build image, so the binary's glibc matches.
FROM debian:bookworm-20260824-slim AS runtime
ARG SERVICE

# curl is only for the container healthcheck (docker-compose.yml probes each /<svc>/health);
# ca-certificates for TLS to external endpoints.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# Fixed numeric ids, so orchestrators can check runAsNonRoot and volumes can be chowned ahead.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin app

COPY --from=build /usr/local/bin/app /usr/local/bin/app

LABEL org.opencontainers.image.title="$SERVICE"
ENV RUST_LOG=info
USER 10001:10001
# The binary is PID 1 and handles SIGTERM itself (graceful drain), so no init wrapper is needed.
ENTRYPOINT ["/usr/local/bin/app"]
