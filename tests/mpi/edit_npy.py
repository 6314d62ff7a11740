"""Copy a 2-D .npy file (f32 or f64, little-endian, C order) with values
changed, without numpy:
python3 edit_npy.py IN.npy OUT.npy ROW,COL=VALUE ...   (0-based row and column)
python3 edit_npy.py IN.npy OUT.npy pm1-from=ROW        (from ROW on, a 0 in
                                                        the last column is -1)"""
import ast
import struct
import sys


def main():
    src, out, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
    b = bytearray(open(src, "rb").read())
    assert b[:6] == b"\x93NUMPY" and b[6] == 1, src
    hlen = struct.unpack("<H", b[8:10])[0]
    header = ast.literal_eval(b[10:10 + hlen].decode("latin1"))
    rows, cols = header["shape"]
    code = {"<f4": "<f", "<f8": "<d"}[header["descr"]]
    size = struct.calcsize(code)

    def at(r, c):
        return 10 + hlen + (r * cols + c) * size

    for e in edits:
        key, value = e.split("=")
        if key == "pm1-from":
            for r in range(int(value), rows):
                if struct.unpack_from(code, b, at(r, cols - 1))[0] == 0:
                    struct.pack_into(code, b, at(r, cols - 1), -1.0)
        else:
            r, c = (int(x) for x in key.split(","))
            struct.pack_into(code, b, at(r, c), float(value))
    open(out, "wb").write(b)


main()
