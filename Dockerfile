# syntax=docker/dockerfile:1
#
# ferry's container image: the static binary and a CA bundle on scratch.
# It runs as root (no USER), as GitHub Actions expects of a docker action.
#
#   docker build --build-arg VERSION=v1.2.3 -t ghcr.io/ferry-dev/ferry:v1.2.3 .
#   docker build --build-arg VERSION=v1.2.3 --target busybox -t ghcr.io/ferry-dev/ferry:v1.2.3-busybox .
#
# The busybox target is the same binary on busybox, for CircleCI: its
# docker executor runs every step through a shell, which scratch lacks.
#
# Releases are built without a docker daemon by hack/image, which writes the
# same image config; `go test ./hack/image` fails when the two disagree.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ferry ./cmd/ferry

FROM busybox:1.37.0-musl AS busybox
ARG VERSION=dev
COPY --from=build --chmod=0644 /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=0755 /out/ferry /ferry
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="ferry" \
      org.opencontainers.image.description="ferry promotes the exact image staging runs to production, verifies it, and rolls back by itself when production is unhealthy." \
      org.opencontainers.image.source="https://github.com/ferry-dev/ferry" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
ENTRYPOINT ["/ferry"]

FROM scratch
ARG VERSION=dev
COPY --from=build --chmod=0644 /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=0755 /out/ferry /ferry
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="ferry" \
      org.opencontainers.image.description="ferry promotes the exact image staging runs to production, verifies it, and rolls back by itself when production is unhealthy." \
      org.opencontainers.image.source="https://github.com/ferry-dev/ferry" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
ENTRYPOINT ["/ferry"]
