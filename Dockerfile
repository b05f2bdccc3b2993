# syntax=docker/dockerfile:1
#
# The pipeline-run image: one static binary in an empty (`scratch`) image, a few MB.
# - No shell, no package manager, no USER line: GitHub runs container actions as root.
# - No CA files: the TLS roots (webpki-roots) are compiled into the binary.
# - `/pipeline-run-post` is a link to the same binary; that name selects the post step
#   (action.yml `runs.post-entrypoint`), which only ever cancels, never triggers.
# Built natively per architecture (linux/amd64, linux/arm64): the musl target is picked
# from the build machine, so no cross C toolchain is needed for `ring`.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src

# 1. The dependencies, in a layer of their own: rebuilt only when Cargo.toml or
#    Cargo.lock change. Every target the manifest names gets an empty stub.
#    The simulator crate is a workspace member, so its manifest must be there too; it is
#    never built here (`--bin pipeline-run` builds the product alone).
COPY Cargo.toml Cargo.lock ./
COPY crates/sim/Cargo.toml crates/sim/
RUN for p in src/main.rs src/lib.rs crates/sim/src/main.rs crates/sim/src/lib.rs \
      $(sed -n 's/^path *= *"\(.*\)"/\1/p' Cargo.toml); do \
      mkdir -p "$(dirname "$p")" && echo 'fn main() {}' > "$p"; \
    done \
 && cargo build --release --locked --target "$(uname -m)-unknown-linux-musl" -p pipeline-run --bin pipeline-run \
 && rm -rf src

# 2. The program itself. COPY keeps the files' own times, which can be older than the stub
#    build above: touch them so cargo rebuilds from the real sources.
COPY src ./src
RUN find src -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --target "$(uname -m)-unknown-linux-musl" -p pipeline-run --bin pipeline-run \
 && mkdir /out \
 && cp "target/$(uname -m)-unknown-linux-musl/release/pipeline-run" /out/pipeline-run \
 && ln -s pipeline-run /out/pipeline-run-post \
 && /out/pipeline-run --version

FROM scratch
# Copying the directory keeps the link a link (one copy of the binary in the image).
COPY --from=build /out/ /
ENTRYPOINT ["/pipeline-run"]
