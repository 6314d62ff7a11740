#!/usr/bin/python3
"""Bad inputs for the CLI, one file per case of tests/bad/manifest.txt.

Made with: python3 tests/bad/make_bad.py   (standard library only: struct)
Every file is small and deterministic; rerunning the script rewrites the
same bytes. ok_data.csv and ok_model.json are the good partners of the bad
files (a model for the bad data files, data for the bad model files).
"""
import json
import os
import random
import struct

here = os.path.dirname(os.path.abspath(__file__))


def put(name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


def npy(descr, shape, payload, version=1, fortran="False", dict_text=None):
    """A .npy file: magic, version, header length, the header dict padded to
    a multiple of 64 bytes with spaces and a newline, then `payload`."""
    if dict_text is None:
        dims = "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0]
        dims = "(" + dims.rstrip(", ") + ("," if len(shape) == 1 else "") + ")"
        dict_text = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, dims)
    pre = 10 if version == 1 else 12
    total = (pre + len(dict_text) + 1 + 63) // 64 * 64
    header = dict_text + " " * (total - pre - len(dict_text) - 1) + "\n"
    lenfield = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + lenfield + header.encode("latin-1") + payload


def f8(values):
    return struct.pack("<%dd" % len(values), *values)


def f4(values):
    return struct.pack("<%df" % len(values), *values)


rows = [[0.5 * i, 1.0 - 0.25 * i, 2.0 * i + 1] for i in range(6)]
flat = [v for r in rows for v in r]

# good partners
put("ok_data.csv", "x1,x2,y\n" + "".join("%r,%r,%r\n" % tuple(r) for r in rows))
put("ok_model.json", json.dumps({"format": "neuron-model", "version": 1, "features": 2,
                                 "activation": "identity", "weights": [0.5, -1.25],
                                 "bias": 0.75, "standardization": None}, indent=1) + "\n")

# .npy: truncated, lying headers, sizes that overflow, wrong dtypes, bad values
put("npy_truncated_payload.npy", npy("<f8", (6, 3), f8(flat)[:100]))
put("npy_truncated_header.npy", npy("<f8", (6, 3), b"")[:40])
put("npy_truncated_magic.npy", b"\x93NUMP")
put("npy_shape_lies.npy", npy("<f8", (1000000, 3), f8(flat)))
put("npy_shape_over_4gib.npy", npy("<f8", (268435456, 3), f8(flat)))  # 6 GiB announced
put("npy_shape_product_overflows.npy", npy("<f8", (2**62, 4), f8(flat)))
put("npy_dim_overflows.npy", npy("<f8", None, b"", dict_text=
    "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }"))
put("npy_bytes_after_data.npy", npy("<f8", (5, 3), f8(flat)))
put("npy_dtype_i4.npy", npy("<i4", (6, 3), struct.pack("<18i", *range(18))))
put("npy_dtype_c16.npy", npy("<c16", (6, 3), f8(flat) * 2))
put("npy_dtype_u2.npy", npy("<u2", (6, 3), b"\0\0" * 18))  # 2 bytes, but integers
put("npy_dtype_newline.npy", npy(None, None, f8(flat), dict_text=
    "{'descr': '<f\n8', 'fortran_order': False, 'shape': (6, 3), }"))
put("npy_no_shape.npy", npy(None, None, f8(flat), dict_text=
    "{'descr': '<f8', 'fortran_order': False, }"))
put("npy_fortran_garbage.npy", npy("<f8", (6, 3), f8(flat), fortran="Maybe"))
put("npy_one_column.npy", npy("<f8", (6, 1), f8(flat[:6])))
put("npy_version9.npy", b"\x93NUMPY\x09\x00" + b"\0" * 120)
nan = list(flat)
nan[4] = float("nan")  # row 2, column 2
put("npy_nan.npy", npy("<f8", (6, 3), f8(nan)))
inf = list(flat)
inf[17] = float("inf")  # row 6, column 3
put("npy_inf_f32.npy", npy("<f4", (6, 3), f4(inf)))
put("npy_inf_f16.npy", npy("<f2", (6, 3), struct.pack("<18e", *inf)))
put("npy_truncated_f16.npy", npy("<f2", (6, 3), struct.pack("<18e", *flat)[:35]))
put("npy_empty.npy", b"")
rng = random.Random(7)
put("npy_garbage.npy", bytes(rng.randrange(256) for _ in range(300)))

# CSV
put("csv_ragged.csv", "x1,x2,y\n1,2,3\n4,5\n")
put("csv_non_numeric.csv", "x1,x2,y\n1,2,3\n4,abc,6\n")
put("csv_empty_field.csv", "x1,x2,y\n1,,3\n")
put("csv_missing_target_value.csv", "x1,x2,y\n1,2,3\n4,5,\n")
put("csv_nan.csv", "x1,x2,y\n1,2,3\n4,nan,6\n")
put("csv_inf.csv", "x1,x2,y\n1,2,3\n4,5,-Infinity\n")
put("csv_empty.csv", "")
put("csv_blank_lines.csv", "\n  \n\r\n")
put("csv_header_only.csv", "x1,x2,y\n")
put("csv_one_column.csv", "y\n1\n2\n")
put("csv_garbage.csv", bytes(rng.randrange(256) for _ in range(200)) + b"\0")
put("csv_carriage_return_in_field.csv", "x1,x2,y\n1,2\r5,3\n")
put("csv_f32_overflow.csv", "x1,x2,y\n1,1e300,3\n")
put("csv_f16_overflow.csv", "x1,x2,y\n1,2,3\n1,2,65520\n")  # 65520 rounds to 2^16
put("csv_wrong_extension.dat", "x1,x2,y\n1,2,3\n")

# models
def model(**kw):
    m = {"format": "neuron-model", "version": 1, "features": 2, "activation": "identity",
         "weights": [0.5, -1.25], "bias": 0.75, "standardization": None}
    for k, v in kw.items():
        if v is Ellipsis:
            del m[k]
        else:
            m[k] = v
    return json.dumps(m) + "\n"

put("model_future_version.json", model(version=2))
put("model_missing_weights.json", model(weights=...))
put("model_missing_bias.json", model(bias=...))
put("model_missing_format.json", model(format=...))
put("model_weights_not_array.json", model(weights="0.5,-1.25"))
put("model_weight_is_string.json", model(weights=["0.5", -1.25]))
put("model_weights_count.json", model(weights=[0.5, -1.25, 3.0]))
put("model_features_mismatch.json", model(features=5, weights=[1, 2, 3, 4, 5]))
put("model_features_fraction.json", model(features=2.5))
put("model_bias_infinite.json", model().replace('"bias": 0.75', '"bias": 1e999'))
put("model_activation.json", model(activation="relu"))
put("model_standardization_type.json", model(standardization=5))
put("model_top_level_array.json", "[1, 2, 3]\n")
put("model_not_json.json", "weights: 0.5 -1.25\nbias: 0.75\n")
put("model_truncated.json", model()[:60])
put("model_empty.json", "")

# issue 13: strict models, NUL bytes past the first 4 KiB, values that
# overflow double in a prediction
put("model_trailing_garbage.json", model() + "garbage\n")
put("model_two_models.json", model() + model())
put("model_overflows.json", model(weights=[1e308, 1e308]))

# jansson: a key twice is refused (not one of its values picked); a number
# beyond the doubles is not finite in the field that holds it; a syntax
# error is named by line and column; text that is not UTF-8 is not JSON
put("model_duplicate_key.json", model().replace('"bias": 0.75', '"bias": 0.75, "bias": 2.5'))
put("model_weight_overflows.json", model(weights=[0.5, 1]).replace("[0.5, 1]", "[0.5, -1e999]"))
put("model_syntax_line_3.json", model().replace(", ", ",\n", 2).replace('"identity"', "identity"))
put("model_not_utf8.json", model().encode().replace(b'"identity"', b'"identit\xff"'))
put("csv_nul_after_4k.csv", "x1,x2,y\n" + "1,2,3\n" * 800 + "12\0,2,3\n")
