#!/usr/bin/env bash
# Regenerates the small committed fixtures in testdata/ (run from anywhere).
# Needs ffmpeg, python3, imagemagick and libheif-examples. The fixtures are committed, so tests and the
# README's commands never run this; it documents how each file was made.
set -euo pipefail
cd "$(dirname "$0")/samples"
mkdir -p ../bad
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# Video
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=3 -f lavfi -i sine=frequency=440:duration=3 \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 64k -movflags +faststart -shortest sample.mp4
ff -f lavfi -i testsrc2=size=240x320:rate=25:duration=2 -f lavfi -i sine=frequency=330:duration=2 \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 64k -shortest -f mov sample.mov
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libvpx -b:v 200k -an sample.webm
ff -f lavfi -i testsrc2=size=160x120:rate=10:duration=1 -vf "split[a][b];[a]palettegen[p];[b][p]paletteuse" -loop 0 animated.gif
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i sine=duration=1 \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 48k -shortest -f mpegts camera.mts
# Audio
ff -f lavfi -i sine=frequency=440:duration=2 -c:a libmp3lame -b:a 64k sample-id3.mp3
ff -f lavfi -i sine=frequency=440:duration=2 -ar 22050 -c:a libmp3lame -b:a 32k -id3v2_version 0 -write_xing 0 sample-mpeg2.mp3
ff -f lavfi -i sine=frequency=440:duration=2 -c:a aac -b:a 64k -f ipod sample.m4a
ff -f lavfi -i sine=frequency=440:duration=1 -ar 16000 -ac 1 sample.wav
ff -f lavfi -i sine=frequency=440:duration=2 -c:a libopus -b:a 32k sample.opus
ff -f lavfi -i sine=frequency=440:duration=1 -ar 16000 -c:a flac sample.flac
# AMR-NB: Debian's ffmpeg decodes AMR but cannot encode it, so write 2 s of
# 12.2 kbit/s frames with pseudo-random payloads (any payload decodes).
python3 - <<'PY'
import random
random.seed(7)
with open("sample.amr", "wb") as f:
    f.write(b"#!AMR\n")
    for _ in range(100):
        f.write(bytes([0x3C]) + bytes(random.getrandbits(8) for _ in range(31)))
PY
# Pictures
ff -f lavfi -i testsrc2=size=640x480 -frames:v 1 -q:v 4 sample.jpg
ff -f lavfi -i "color=c=red@0.5:size=200x100,format=rgba" -frames:v 1 alpha.png
ff -f lavfi -i testsrc2=size=300x200 -frames:v 1 -c:v libwebp sample.webp
ff -f lavfi -i testsrc2=size=120x90 -frames:v 1 sample.bmp
ff -f lavfi -i testsrc2=size=120x90 -frames:v 1 -pix_fmt rgb24 -compression_algo deflate sample.tiff
ff -f lavfi -i testsrc2=size=90x90 -frames:v 1 static.gif
# ImageMagick (Debian imagemagick) for the JPEG variants, libheif's heif-enc for HEIC.
/usr/bin/convert sample.jpg -interlace Plane progressive.jpg
/usr/bin/convert sample.jpg -colorspace CMYK cmyk.jpg
/usr/bin/convert sample.jpg -colorspace Gray gray.jpg
/usr/bin/convert -size 240x320 gradient:red-blue -depth 16 png16.png
heif-enc -q 50 -o sample.heic sample.jpg
heif-enc -A -q 50 -o sample.avif sample.jpg
# Chroma layouts other than 4:2:0, WebP with alpha (left half opaque black, right half transparent).
ff -f lavfi -i testsrc2=size=160x120 -frames:v 1 -pix_fmt yuvj444p -q:v 4 yuv444.jpg
ff -f lavfi -i testsrc2=size=160x120 -frames:v 1 -pix_fmt yuvj422p -q:v 4 yuv422.jpg
ff -f lavfi -i "color=black:s=90x160,format=rgba,geq=r=0:g=0:b=0:a='if(lt(X,45),255,0)'" -frames:v 1 \
   -c:v libwebp -pix_fmt yuva420p -q:v 80 alpha.webp
# HEIC as an iPhone writes it: pixels stored sideways (64x48, left half red, right half blue),
# an 'irot' turning them upright (48x64, red on top) and EXIF orientation 6, which libheif
# applies through irot and copies unchanged into heif-convert's JPEG.
ff -f lavfi -i color=red:s=32x48 -f lavfi -i color=blue:s=32x48 -filter_complex hstack -frames:v 1 -q:v 2 /tmp/sideways.jpg
python3 - <<'PY'
import struct
d = open("/tmp/sideways.jpg", "rb").read()
tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"
seg = b"Exif\x00\x00" + tiff
open("/tmp/sideways-o6.jpg", "wb").write(d[:2] + b"\xff\xe1" + struct.pack(">H", len(seg) + 2) + seg + d[2:])
PY
heif-enc -q 60 -o /tmp/sideways.heic /tmp/sideways-o6.jpg
python3 ../heif-irot.py /tmp/sideways.heic rotated.heic 3
rm -f /tmp/sideways.jpg /tmp/sideways-o6.jpg /tmp/sideways.heic

# Bad inputs
: > ../bad/empty.mp4
printf 'This is a text file that someone renamed to .mp4\n' > ../bad/text.mp4
python3 -c "import random,sys; random.seed(11); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(4096)))" > ../bad/random.bin
printf '%%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%%%EOF\n' > ../bad/doc.pdf
python3 -c "import zipfile; z=zipfile.ZipFile('../bad/archive.zip','w'); z.writestr('a.txt','hello'); z.close()"
head -c 3000 sample.jpg > ../bad/truncated.jpg
# An MP4 with moov at the end, cut in half: the index is gone.
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p /tmp/moov-last.mp4
head -c "$(( $(stat -c %s /tmp/moov-last.mp4) / 2 ))" /tmp/moov-last.mp4 > ../bad/truncated.mp4
rm -f /tmp/moov-last.mp4
# A faststart MP4 cut in half: the index is there, half the media is not.
head -c "$(( $(stat -c %s sample.mp4) / 2 ))" sample.mp4 > ../bad/truncated-faststart.mp4
# A PNG whose header claims 40000x40000 pixels (a decompression bomb).
python3 - <<'PY'
import struct, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)
data = zlib.compress(b"\x00" * 1024)
open("../bad/bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
PY
