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
if [[ $what == bench ]]; then
	have vipsthumbnail || need+=(libvips-tools)   # the picture benchmark's reference
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
