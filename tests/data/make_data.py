#!/usr/bin/python3
"""Small files made by numpy itself, for tests/test_data.c.

Made with: /usr/bin/python3 tests/data/make_data.py  (Debian python3-numpy 1.24)
Each array holds the values v[i, j] = (i + 1) * 0.5 + j * 0.25 - 1, so the
test can recompute every value independently.
"""
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rows, cols = 7, 3
v = np.fromfunction(lambda i, j: (i + 1) * 0.5 + j * 0.25 - 1, (rows, cols), dtype=np.float64)
np.save(os.path.join(here, "np_f64.npy"), v)
np.save(os.path.join(here, "np_f32.npy"), v.astype(np.float32))
np.save(os.path.join(here, "np_f64_fortran.npy"), np.asfortranarray(v))
np.save(os.path.join(here, "np_f64_bigendian.npy"), v.astype(">f8"))
with open(os.path.join(here, "np_f64_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, v, version=(2, 0))
with open(os.path.join(here, "np_f64_v3.npy"), "wb") as f:
    np.lib.format.write_array(f, v, version=(3, 0))
np.save(os.path.join(here, "np_int64.npy"), np.arange(6, dtype=np.int64).reshape(3, 2))
np.save(os.path.join(here, "np_1d.npy"), np.arange(4, dtype=np.float64))
np.save(os.path.join(here, "np_3d.npy"), np.zeros((2, 2, 2)))
w = v.copy()
w[4, 1] = np.nan
np.save(os.path.join(here, "np_nan.npy"), w)
w = v.copy()
w[2, 2] = -np.inf
np.save(os.path.join(here, "np_inf.npy"), w.astype(np.float32))
