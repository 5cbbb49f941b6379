#!/usr/bin/env bash
# Installs what mediaprep needs from Debian's packages, only what is missing.
# Safe to run any number of times. Usage: scripts/deps.sh [run|test|bench]
set -euo pipefail
what=${1:-run}

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ffmpeg && have ffprobe || need+=(ffmpeg)
have heif-convert || need+=(libheif-examples)   # HEIC/HEIF/AVIF pictures
# libjpeg-turbo's TurboJPEG API, for building (cgo) and running.
[[ -e /usr/include/turbojpeg.h ]] || need+=(libturbojpeg0-dev)
have gcc || need+=(gcc)                          # cgo
[[ -e /usr/include/stdio.h ]] || need+=(libc6-dev)
if [[ $what == test ]]; then
	have chromium || need+=(chromium)            # the web page's browser tests (headless)
fi
if [[ $what == bench ]]; then
	have vipsthumbnail || need+=(libvips-tools)   # the picture benchmark's reference
fi
# The S3-compatible server the integration tests and benchmarks start
# (storage/s3test). Built once with the Go toolchain, then cached in Go's bin
# folder; a fresh machine takes about three minutes here.
if [[ $what == test || $what == bench ]]; then
	gobin=$(go env GOBIN)
	gobin=${gobin:-$(go env GOPATH)/bin}
	if ! have versitygw && [[ ! -x $gobin/versitygw ]]; then
		echo "deps: building versitygw v1.8.0 into $gobin" >&2
		go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
	fi
fi
# The linter make lint and make test run, pinned (.golangci.yml).
if [[ $what == test || $what == lint ]]; then
	gobin=$(go env GOBIN)
	gobin=${gobin:-$(go env GOPATH)/bin}
	if ! "$gobin/golangci-lint" version 2>/dev/null | grep -q ' 2\.15\.0 '; then
		echo "deps: building golangci-lint v2.15.0 into $gobin" >&2
		go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
	fi
fi
if ((${#need[@]} == 0)); then
	exit 0
fi
sudo=()
if [[ $(id -u) != 0 ]]; then
	sudo=(sudo)
fi
echo "deps: installing ${need[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
