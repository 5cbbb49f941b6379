# mediaprep: build with Go, run on Debian with ffmpeg and libheif.
# Build: docker build -t mediaprep .
# Serve: docker run -d -p 8080:8080 -v mediaprep-data:/data --env-file mediaprep.env mediaprep
#        (mediaprep.env: MEDIAPREP_API_KEYS — required, the server listens on all
#        interfaces in the container — plus MEDIAPREP_GREENAPI_*, MEDIAPREP_S3_*,
#        AWS_ACCESS_KEY_ID/SECRET, MEDIAPREP_PUBLIC_BASE_URL, MEDIAPREP_NATS_URL,
#        MEDIAPREP_ACCOUNTS_FILE; see README)
# Tools: docker run --rm -u "$(id -u):$(id -g)" -v "$PWD:/work" -w /work mediaprep prepare --out out in/*
#        (-u: the outputs are yours, and the image's user could not write to $PWD)

# The Go of go.mod's go line: the official images set GOTOOLCHAIN=local, so
# an older 1.26 image would refuse to build instead of fetching a toolchain.
FROM golang:1.26.8-bookworm AS build
# libjpeg-turbo's TurboJPEG API: the picture path links it through cgo.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libturbojpeg0-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/mediaprep ./cmd/mediaprep

FROM debian:bookworm-slim
# ffmpeg/ffprobe for video and audio, heif-convert for HEIC/AVIF pictures,
# libturbojpeg for JPEG, CA certificates for Green API and S3 over HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libheif-examples libturbojpeg0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home mediaprep
COPY --from=build /out/mediaprep /usr/local/bin/mediaprep
USER mediaprep
WORKDIR /data
# /data holds the embedded queue, local storage and inbox, temp files, and
# the journal of sends not yet recorded: keep it on a persistent volume.
VOLUME ["/data"]
ENV MEDIAPREP_DATA_DIR=/data MEDIAPREP_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s CMD ["mediaprep", "healthcheck"]
# SIGTERM: stop taking work, let running jobs finish (MEDIAPREP_SHUTDOWN_GRACE,
# 60 s); give docker stop more than that: docker stop -t 90.
STOPSIGNAL SIGTERM
ENTRYPOINT ["mediaprep"]
CMD ["serve"]
