# mediaprep: build with Go, run on Debian with ffmpeg and libheif.
# Build: docker build -t mediaprep .
# Run:   docker run --rm -v "$PWD:/data" mediaprep prepare --out /data/out /data/in/*
#        docker run --rm -v "$PWD:/data" --env-file mediaprep.env mediaprep batch --out /data/out /data/in
#        (mediaprep.env: MEDIAPREP_GREENAPI_*, MEDIAPREP_S3_*, AWS_ACCESS_KEY_ID/SECRET; see README)

FROM golang:1.26-bookworm AS build
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
VOLUME ["/data"]
ENTRYPOINT ["mediaprep"]
CMD ["--help"]
