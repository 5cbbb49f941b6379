# Adds an 'irot' property (rotation, in quarter turns anticlockwise) to the
# primary item of a HEIF file whose 'meta' precedes its 'mdat', fixing the
# box sizes and the 'iloc' file offsets that move. Usage: irot.py IN OUT ANGLE
import struct, sys

def boxes(b):
    i, out = 0, []
    while i + 8 <= len(b):
        size, typ = struct.unpack(">I4s", b[i:i+8])
        out.append([typ, b[i+8:i+size]])
        i += size
    return out

def ser(bs):
    return b"".join(struct.pack(">I4s", 8 + len(p), t) + p for t, p in bs)

src, dst, angle = sys.argv[1], sys.argv[2], int(sys.argv[3])
top = boxes(open(src, "rb").read())
meta = next(b for b in top if b[0] == b"meta")
mhead, mkids = meta[1][:4], boxes(meta[1][4:])
pitm = next(p for t, p in mkids if t == b"pitm")
primary = struct.unpack(">H", pitm[4:6])[0] if pitm[0] == 0 else struct.unpack(">I", pitm[4:8])[0]
iprp = next(b for b in mkids if b[0] == b"iprp")
pkids = boxes(iprp[1])
ipco = next(b for b in pkids if b[0] == b"ipco")
props = boxes(ipco[1])
props.append([b"irot", bytes([angle & 3])])
index = len(props)
ipco[1] = ser(props)
ipma = next(b for b in pkids if b[0] == b"ipma")
p = ipma[1]
ver, flags = p[0], int.from_bytes(p[1:4], "big")
n = struct.unpack(">I", p[4:8])[0]
out, i = bytearray(p[:8]), 8
for _ in range(n):
    idlen = 2 if ver < 1 else 4
    item = int.from_bytes(p[i:i+idlen], "big")
    cnt = p[i+idlen]
    alen = 2 if flags & 1 else 1
    assoc = p[i+idlen+1:i+idlen+1+cnt*alen]
    i += idlen + 1 + cnt * alen
    if item == primary:
        cnt += 1
        assoc += (0x8000 | index).to_bytes(2, "big") if alen == 2 else bytes([0x80 | index])
    out += item.to_bytes(idlen, "big") + bytes([cnt]) + assoc
ipma[1] = bytes(out)
iprp[1] = ser(pkids)
delta = len(mhead + ser(mkids)) - len(meta[1])
# Shift the file offsets of every item stored by file offset.
iloc = next(b for b in mkids if b[0] == b"iloc")
p = bytearray(iloc[1])
ver = p[0]
osz, lsz, bsz, isz = p[4] >> 4, p[4] & 15, p[5] >> 4, p[5] & 15
i = 6
cnt = struct.unpack(">H", p[i:i+2])[0] if ver < 2 else struct.unpack(">I", p[i:i+4])[0]
i += 2 if ver < 2 else 4
def shift(at, size):
    if size:
        v = int.from_bytes(p[at:at+size], "big") + delta
        p[at:at+size] = v.to_bytes(size, "big")
for _ in range(cnt):
    i += 2 if ver < 2 else 4
    method = 0
    if ver in (1, 2):
        method = struct.unpack(">H", p[i:i+2])[0] & 15
        i += 2
    i += 2  # data_reference_index
    base_at = i
    i += bsz
    ext = struct.unpack(">H", p[i:i+2])[0]
    i += 2
    if method == 0 and bsz:
        shift(base_at, bsz)
    for _ in range(ext):
        if ver in (1, 2) and isz:
            i += isz
        if method == 0 and not bsz:
            shift(i, osz)
        i += osz + lsz
iloc[1] = bytes(p)
meta[1] = mhead + ser(mkids)
open(dst, "wb").write(ser(top))
