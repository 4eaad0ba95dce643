# syntax=docker/dockerfile:1
# The rerank server as a container image: a static (CGO_ENABLED=0) binary on distroless
# static, running as the non-root user 65532, model cache (HF_HOME) on a volume.
#
#   docker build -t gorerank:dev --build-arg VERSION=$(git describe --always) .
#   docker run --rm -p 8000:8000 -v rerank-hf:/data/hf gorerank:dev
#   # the model baked in (downloaded at build time; needs network during the build):
#   docker build --target with-model -t gorerank:dev-bge-m3 .
#
# No HEALTHCHECK: Kubernetes probes /health and /ready (deploy/k8s). Without Docker, the same
# image is assembled by `go run ./cmd/mkimage` in deploy/ (see deploy/README.md); that path is
# the one the project's tests build and run. This Dockerfile could not be run where it was
# written (no Docker engine there).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.buildVersion=${VERSION}" -o /out/rerank ./cmd/rerank \
 && mkdir -p /out/data/hf

# runtime without a VOLUME line, so that the with-model stage can still fill /data/hf
FROM gcr.io/distroless/static-debian12:nonroot AS runtime-base
ARG VERSION=dev
LABEL org.opencontainers.image.title="gorerank" \
      org.opencontainers.image.description="rerank serve: a pure-Go HTTP server for the BAAI/bge-reranker-v2-m3 cross-encoder" \
      org.opencontainers.image.source="https://github.com/gorerank/gorerank" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/rerank /usr/local/bin/rerank
COPY --from=build --chown=65532:65532 /out/data /data
ENV HF_HOME=/data/hf HOME=/tmp
USER 65532:65532
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rerank"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--model", "BAAI/bge-reranker-v2-m3"]

# variant with the model inside the image (about 2.3 GB more); starts without network
FROM build AS fetch
ARG MODEL=BAAI/bge-reranker-v2-m3
RUN HF_HOME=/out/data/hf /out/rerank download --quiet "${MODEL}"

FROM runtime-base AS with-model
COPY --from=fetch --chown=65532:65532 /out/data/hf /data/hf
ENV HF_HUB_OFFLINE=1

# default target: the model cache is a volume, filled on first start or by an init container
FROM runtime-base AS runtime
VOLUME ["/data/hf"]
