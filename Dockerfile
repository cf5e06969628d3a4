# The contest image of `rinha`: one static (musl) binary in an empty image.
#
#   docker build --platform linux/amd64 -t ghcr.io/rinha-rs/rinha:latest .
#   docker push ghcr.io/rinha-rs/rinha:latest
#
# It needs Docker Hub (the `rust` base image and the musl target from the
# Rust toolchain servers), so it cannot be built on the project's
# development machines, which reach no registry. tests/docker_e2e.rs builds
# an equivalent image there instead: the host's glibc build of the same
# sources plus the libraries it links, `FROM scratch`, same user, same
# entrypoint. See docs/docker.md.

# ---- build: rustup's musl target gives a binary with no runtime dependency.
FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# Everything .dockerignore lets through: Cargo.toml may name test, bench and
# example targets, and cargo refuses a manifest whose targets are missing.
COPY . .
# Symbols only cost image size; panics abort (Cargo.toml), so no unwinding
# tables are needed for backtraces either.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin rinha \
 && install -D -m 0555 target/x86_64-unknown-linux-musl/release/rinha /out/rinha

# ---- run: nothing but the binary. No shell, no libc, no package manager.
FROM scratch
COPY --from=build /out/rinha /rinha
# Not root: the apis only need to create their sockets and the shared file
# in the /sockets tmpfs volume, which docker-compose.yml mounts owned by
# this uid (65532, "nonroot" in distroless images).
USER 65532:65532
ENTRYPOINT ["/rinha"]
CMD ["api"]
