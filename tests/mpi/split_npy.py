"""Cut a 2-D .npy file into shards of the given row counts (the rest goes
to the last), in the same format version and dtype, without numpy:
python3 split_npy.py DATA.npy OUT_PREFIX ROWS1,ROWS2,... -> OUT_PREFIX-000.npy ..."""
import ast
import struct
import sys


def read(path):
    b = open(path, "rb").read()
    assert b[:6] == b"\x93NUMPY", path
    major = b[6]
    if major == 1:
        hlen, start = struct.unpack("<H", b[8:10])[0], 10
    else:
        hlen, start = struct.unpack("<I", b[8:12])[0], 12
    header = ast.literal_eval(b[start:start + hlen].decode("latin1"))
    return header, b[start + hlen:]


def write(path, descr, rows, cols, data):
    text = "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }" % (descr, rows, cols)
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1"))
        f.write(data)


def main():
    src, prefix, counts = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3].split(",")]
    header, data = read(src)
    rows, cols = header["shape"]
    size = int(header["descr"][2:])
    rowbytes = cols * size
    at = 0
    for k, n in enumerate(counts + [rows - sum(counts)]):
        write("%s-%03d.npy" % (prefix, k), header["descr"], n, cols,
              data[at * rowbytes:(at + n) * rowbytes])
        at += n


main()
