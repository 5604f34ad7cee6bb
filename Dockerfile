# syntax=docker/dockerfile:1
# The ferry operator: `ferry controller` on a distroless, non-root base.
# Build: docker build -t ghcr.io/ferry-dev/ferry:TAG .
# The build command is the one .ci/run runs (packaging step): cargo build --release --locked -p ferry.
# The image writes nothing to its filesystem, so it runs with readOnlyRootFilesystem: true.

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cargo registry and target directory are build caches; the binary is copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ferry \
 && install -D -m 0755 target/release/ferry /out/ferry

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="ferry" \
      org.opencontainers.image.description="Ferry: ServerlessService on Knative, AWS Fargate or Google Cloud Run" \
      org.opencontainers.image.source="https://github.com/ferry-dev/ferry" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ferry /usr/local/bin/ferry
# distroless's nonroot user, by number so that runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ferry"]
CMD ["controller"]
