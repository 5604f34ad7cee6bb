# syntax=docker/dockerfile:1
# The ferry binary on a distroless, non-root base. The build command is the one CI runs for
# releases; the operator's entrypoint (`ferry controller`) arrives with the controller.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ferry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/ferry /usr/local/bin/ferry
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/ferry"]
