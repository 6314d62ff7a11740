/* Data sets: .npy and CSV readers and writers, `neuron gen`, and the
 * treatment of bad input. Values are checked against independent formulas
 * (tests/data/make_data.py documents the numpy-made files). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "neuron.h"
#include "util.h"

/* v[i, j] of the numpy-made files */
static double np_value(size_t i, size_t j) {
    return (double)(i + 1) * 0.5 + (double)j * 0.25 - 1;
}

static double at(const nr_data *d, size_t i, size_t j) {
    size_t k = i * (d->features + 1) + j;
    return d->dtype == NR_F32 ? ((const float *)d->values)[k] : ((const double *)d->values)[k];
}

static nr_dataset *load_ok(const char *rel, const nr_load_opts *o) {
    char *p = source_path(rel);
    nr_dataset *ds = NULL;
    nr_error err = {{0}};
    nr_status s = nr_dataset_load(p, o, &ds, &err);
    cr_assert_eq(s, NR_OK, "%s: %s", rel, err.msg);
    free(p);
    return ds;
}

static void load_fails(const char *path, const nr_load_opts *o, nr_status want, const char *frag) {
    nr_dataset *ds = NULL;
    nr_error err = {{0}};
    nr_status s = nr_dataset_load(path, o, &ds, &err);
    cr_assert_eq(s, want, "%s: status %d (%s)", path, s, err.msg);
    cr_assert_null(ds);
    cr_assert(strstr(err.msg, frag), "%s: message '%s' lacks '%s'", path, err.msg, frag);
    cr_assert(!strchr(err.msg, '\n'), "one line");
}

Test(npy, reads_every_layout_numpy_writes) {
    const char *files[] = {"tests/data/np_f64.npy",         "tests/data/np_f32.npy",
                           "tests/data/np_f64_fortran.npy", "tests/data/np_f64_bigendian.npy",
                           "tests/data/np_f64_v2.npy",      "tests/data/np_f64_v3.npy"};
    const bool mapped[] = {true, true, false, false, true, true};
    for (size_t f = 0; f < 6; f++) {
        nr_dataset *ds = load_ok(files[f], NULL);
        const nr_data *d = nr_dataset_view(ds);
        cr_assert_eq(d->rows, 7);
        cr_assert_eq(d->features, 2);
        cr_assert_eq(nr_dataset_is_mapped(ds), mapped[f], "%s", files[f]);
        for (size_t i = 0; i < 7; i++)
            for (size_t j = 0; j < 3; j++) /* all values are exact in binary */
                cr_assert(at(d, i, j) == np_value(i, j), "%s [%zu,%zu]", files[f], i, j);
        nr_dataset_free(ds);
    }
}

Test(npy, target_column_and_dtype_conversion) {
    nr_load_opts o;
    nr_load_defaults(&o);
    o.target = "0";
    o.convert = true;
    o.dtype = NR_F32;
    nr_dataset *ds = load_ok("tests/data/np_f64.npy", &o);
    const nr_data *d = nr_dataset_view(ds);
    cr_assert_eq(d->dtype, NR_F32);
    cr_assert(!nr_dataset_is_mapped(ds));
    for (size_t i = 0; i < 7; i++) {
        cr_assert(at(d, i, 0) == np_value(i, 1) && at(d, i, 1) == np_value(i, 2));
        cr_assert(at(d, i, 2) == np_value(i, 0), "target moved last");
    }
    nr_dataset_free(ds);
}

Test(npy, refuses_what_it_cannot_read) {
    char *p;
    p = source_path("tests/data/np_int64.npy");
    load_fails(p, NULL, NR_ERR_INPUT, "dtype '<i8' is not supported");
    free(p);
    p = source_path("tests/data/np_1d.npy");
    load_fails(p, NULL, NR_ERR_INPUT, "1 dimension");
    free(p);
    p = source_path("tests/data/np_3d.npy");
    load_fails(p, NULL, NR_ERR_INPUT, "3 dimensions");
    free(p);
    p = source_path("tests/data/np_nan.npy");
    load_fails(p, NULL, NR_ERR_INPUT, "row 5, column 2: value is NaN");
    free(p);
    p = source_path("tests/data/np_inf.npy");
    load_fails(p, NULL, NR_ERR_INPUT, "row 3, column 3: value is -Inf");
    free(p);
    load_fails("/nonexistent/x.npy", NULL, NR_ERR_INPUT, "cannot open");
    p = source_path("tests/data/np_f64.npy");
    nr_load_opts o;
    nr_load_defaults(&o);
    o.target = "3";
    load_fails(p, &o, NR_ERR_INPUT, "target '3'");
    free(p);
}

static char *write_tmp(const char *dir, const char *name, const void *bytes, size_t n) {
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fwrite(bytes, 1, n, f);
    fclose(f);
    return path;
}

/* A .npy file with the given header dict and `payload` bytes of zeros. */
static char *npy_with(const char *dir, const char *name, const char *dict, size_t payload) {
    size_t hl = strlen(dict);
    size_t total = 10 + hl + payload;
    unsigned char *b = calloc(1, total);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, dict, hl);
    char *p = write_tmp(dir, name, b, total);
    free(b);
    return p;
}

Test(npy, bad_headers_and_sizes) {
    char *dir = scratch_dir();
    char *p;
    p = npy_with(dir, "trunc.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (10, 2), }\n",
                 100);
    load_fails(p, NULL, NR_ERR_INPUT,
               "truncated: shape (10, 2) needs 160 bytes of data, the file has 100");
    free(p);
    p = npy_with(dir, "more.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }\n",
                 64);
    load_fails(p, NULL, NR_ERR_INPUT, "32 bytes after the data");
    free(p);
    p = npy_with(dir, "ovf.npy",
                 "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n",
                 16);
    load_fails(p, NULL, NR_ERR_INPUT, "overflows");
    free(p);
    p = npy_with(
        dir, "huge.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }\n", 16);
    load_fails(p, NULL, NR_ERR_INPUT, "overflows");
    free(p);
    p = npy_with(dir, "nokey.npy", "{'descr': '<f8', 'shape': (1, 2), }\n", 16);
    load_fails(p, NULL, NR_ERR_INPUT, "'fortran_order'");
    free(p);
    p = npy_with(dir, "rows0.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2), }\n",
                 0);
    load_fails(p, NULL, NR_ERR_INPUT, "no rows");
    free(p);
    p = npy_with(dir, "col1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1), }\n",
                 12);
    load_fails(p, NULL, NR_ERR_INPUT, "at least 2");
    free(p);
    unsigned char longhdr[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '}'};
    p = write_tmp(dir, "hdr.npy", longhdr, sizeof longhdr);
    load_fails(p, NULL, NR_ERR_INPUT, "truncated .npy header");
    free(p);
    p = write_tmp(dir, "magic.npy", "hello world, not numpy", 22);
    load_fails(p, NULL, NR_ERR_INPUT, "not a .npy file");
    free(p);
    p = write_tmp(dir, "empty.npy", "", 0);
    load_fails(p, NULL, NR_ERR_INPUT, "empty file");
    free(p);
    unsigned char v9[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 9, 0};
    p = write_tmp(dir, "v9.npy", v9, sizeof v9);
    load_fails(p, NULL, NR_ERR_INPUT, "version 9.0");
    free(p);
    free(dir);
}

Test(npy, save_then_load_gives_the_same_bits_and_numpy_reads_it) {
    char *dir = scratch_dir();
    enum { N = 1001, D = 3 };
    nr_dataset *ds;
    cr_assert_eq(nr_dataset_alloc(N, D, NR_F64, &ds, NULL), NR_OK);
    double *v = nr_dataset_mutable(ds);
    for (size_t i = 0; i < N * (D + 1); i++) v[i] = sin((double)i) * 1e3 / 7.0;
    char path[4096];
    snprintf(path, sizeof path, "%s/rt.npy", dir);
    cr_assert_eq(nr_data_save(nr_dataset_view(ds), path, NULL), NR_OK);
    nr_dataset *back = NULL;
    cr_assert_eq(nr_dataset_load(path, NULL, &back, NULL), NR_OK);
    cr_assert(nr_dataset_is_mapped(back));
    cr_assert(!memcmp(nr_dataset_view(back)->values, v, sizeof(double) * N * (D + 1)));
    nr_dataset_free(back);
    if (access("/usr/bin/python3", X_OK) == 0) {
        char code[8192];
        snprintf(
            code, sizeof code,
            "import sys\ntry:\n import numpy as np\nexcept ImportError:\n sys.exit(77)\n"
            "a=np.load('%s')\nimport math\n"
            "ok=a.shape==(%d,%d) and a.dtype==np.float64 and all(a.flat[i]==math.sin(i)*1e3/7.0 "
            "for i in range(a.size))\nsys.exit(0 if ok else 1)\n",
            path, N, D + 1);
        const char *argv[] = {"/usr/bin/python3", "-c", code, NULL};
        run_result r;
        run_program(&r, argv);
        if (r.status != 77) cr_assert_eq(r.status, 0, "numpy disagrees: %s", r.err);
        run_free(&r);
    }
    nr_dataset_free(ds);
    free(dir);
}

/* ------------------------------------------------------------------ CSV -- */

static char *csv(const char *dir, const char *name, const char *text) {
    return write_tmp(dir, name, text, strlen(text));
}

Test(csv, header_detection_target_delimiters_and_line_endings) {
    char *dir = scratch_dir();
    char *p = csv(dir, "a.csv", "a,b,y\r\n1,2,3\r\n\r\n  4 , \"5\" ,6.5e-1\r\n");
    nr_dataset *ds = NULL;
    cr_assert_eq(nr_dataset_load(p, NULL, &ds, NULL), NR_OK);
    const nr_data *d = nr_dataset_view(ds);
    cr_assert_eq(d->rows, 2);
    cr_assert_eq(d->features, 2);
    cr_assert(at(d, 0, 0) == 1 && at(d, 0, 1) == 2 && at(d, 0, 2) == 3);
    cr_assert(at(d, 1, 0) == 4 && at(d, 1, 1) == 5 && at(d, 1, 2) == 0.65);
    nr_dataset_free(ds);
    nr_load_opts o;
    nr_load_defaults(&o);
    o.target = "a";
    cr_assert_eq(nr_dataset_load(p, &o, &ds, NULL), NR_OK);
    d = nr_dataset_view(ds);
    cr_assert(at(d, 1, 0) == 5 && at(d, 1, 1) == 0.65 && at(d, 1, 2) == 4, "target a moved last");
    nr_dataset_free(ds);
    free(p);
    /* no header, ';' delimiter, index target, f32 conversion */
    p = csv(dir, "b.txt", "0.1;0.2;0.3\n0.4;0.5;0.6");
    nr_load_defaults(&o);
    o.delimiter = ';';
    o.target = "1";
    o.convert = true;
    o.dtype = NR_F32;
    cr_assert_eq(nr_dataset_load(p, &o, &ds, NULL), NR_OK);
    d = nr_dataset_view(ds);
    cr_assert_eq(d->rows, 2);
    cr_assert(at(d, 0, 0) == (double)0.1f && at(d, 0, 1) == (double)0.3f &&
              at(d, 0, 2) == (double)0.2f);
    nr_dataset_free(ds);
    free(p);
    /* a numeric first line is data unless --header says otherwise */
    p = csv(dir, "c.csv", "1,2\n3,4\n");
    cr_assert_eq(nr_dataset_load(p, NULL, &ds, NULL), NR_OK);
    cr_assert_eq(nr_dataset_view(ds)->rows, 2);
    nr_dataset_free(ds);
    nr_load_defaults(&o);
    o.header = NR_HEADER_YES;
    cr_assert_eq(nr_dataset_load(p, &o, &ds, NULL), NR_OK);
    cr_assert_eq(nr_dataset_view(ds)->rows, 1);
    nr_dataset_free(ds);
    free(p);
    free(dir);
}

Test(csv, bad_input_names_file_line_and_field) {
    char *dir = scratch_dir();
    char *p;
    p = csv(dir, "ragged.csv", "x,y\n1,2\n3\n");
    load_fails(p, NULL, NR_ERR_INPUT, "ragged.csv:3: expected 2 fields, found 1");
    free(p);
    p = csv(dir, "text.csv", "x,y\n1,2\n\n3,abc\n");
    load_fails(p, NULL, NR_ERR_INPUT, "text.csv:4: field 2 ('abc') is not a number");
    free(p);
    p = csv(dir, "nan.csv", "1,2\n3,nan\n");
    load_fails(p, NULL, NR_ERR_INPUT, "nan.csv:2: field 2 ('nan') is not finite");
    free(p);
    p = csv(dir, "inf.csv", "1,-inf\n");
    load_fails(p, NULL, NR_ERR_INPUT, "inf.csv:1: field 2 ('-inf') is not finite");
    free(p);
    p = csv(dir, "big.csv", "1,1e999\n");
    load_fails(p, NULL, NR_ERR_INPUT, "not finite");
    free(p);
    p = csv(dir, "empty.csv", "");
    load_fails(p, NULL, NR_ERR_INPUT, "empty file");
    free(p);
    p = csv(dir, "blank.csv", "\n  \n");
    load_fails(p, NULL, NR_ERR_INPUT, "only blank lines");
    free(p);
    p = csv(dir, "head.csv", "x,y\n");
    load_fails(p, NULL, NR_ERR_INPUT, "no data rows after the header");
    free(p);
    p = csv(dir, "one.csv", "1\n2\n");
    load_fails(p, NULL, NR_ERR_INPUT, "one.csv:1: 1 column");
    free(p);
    p = csv(dir, "emptyfield.csv", "1,2\n,4\n");
    load_fails(p, NULL, NR_ERR_INPUT, "emptyfield.csv:2: field 1 ('') is empty");
    free(p);
    p = write_tmp(dir, "bin.csv",
                  "\x7f"
                  "ELF\0\0\1\2",
                  8);
    load_fails(p, NULL, NR_ERR_INPUT, "binary");
    free(p);
    p = csv(dir, "t.csv", "a,b\n1,2\n");
    nr_load_opts o;
    nr_load_defaults(&o);
    o.target = "zzz";
    load_fails(p, &o, NR_ERR_INPUT, "target 'zzz' is not a column");
    free(p);
    load_fails("/nonexistent.csv", NULL, NR_ERR_INPUT, "/nonexistent.csv: cannot open");
    p = csv(dir, "x.parquet", "1,2\n");
    load_fails(p, NULL, NR_ERR_INPUT, "unknown file type");
    free(p);
    free(dir);
}

Test(csv, large_file_errors_report_the_first_bad_line) {
    /* Big enough to be parsed in several parallel chunks; two bad lines, the
     * earlier must be named whichever chunk finishes first. */
    char *dir = scratch_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/big.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "x,y\n");
    for (int i = 0; i < 200000; i++) {
        if (i == 123456)
            fprintf(f, "1,2,3\n");
        else if (i == 190000)
            fprintf(f, "oops,1\n");
        else
            fprintf(f, "%d.25,%d\n", i, -i);
    }
    fclose(f);
    load_fails(path, NULL, NR_ERR_INPUT, "big.csv:123458: expected 2 fields, found 3");
    free(dir);
}

Test(csv, save_then_load_round_trips_bits) {
    char *dir = scratch_dir();
    for (int t = 0; t < 2; t++) {
        nr_dtype dt = t ? NR_F64 : NR_F32;
        nr_dataset *ds;
        cr_assert_eq(nr_dataset_alloc(333, 2, dt, &ds, NULL), NR_OK);
        void *v = nr_dataset_mutable(ds);
        for (size_t i = 0; i < 999; i++) {
            double x = exp((double)i / 50.0 - 10.0) * (i % 2 ? -1 : 1) / 3.0;
            if (dt == NR_F32)
                ((float *)v)[i] = (float)x;
            else
                ((double *)v)[i] = x;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/rt%d.csv", dir, t);
        cr_assert_eq(nr_data_save(nr_dataset_view(ds), path, NULL), NR_OK);
        nr_load_opts o;
        nr_load_defaults(&o);
        o.convert = true;
        o.dtype = dt;
        nr_dataset *back;
        nr_error err;
        cr_assert_eq(nr_dataset_load(path, &o, &back, &err), NR_OK, "%s", err.msg);
        cr_assert_eq(nr_dataset_view(back)->rows, 333);
        cr_assert(!memcmp(nr_dataset_view(back)->values, v, 999 * nr_dtype_size(dt)));
        char *text = read_file(path, NULL);
        cr_assert(!strncmp(text, "x1,x2,y\n", 8));
        free(text);
        nr_dataset_free(back);
        nr_dataset_free(ds);
    }
    free(dir);
}

/* ------------------------------------------------------------------ gen -- */

Test(gen, same_bytes_for_any_thread_count) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = 50003;
    o.features = 3;
    o.dist = NR_DIST_NORMAL;
    o.dtype = NR_F64;
    size_t n = o.rows * 4;
    double *a = malloc(n * 8), *b = malloc(n * 8);
    o.threads = 1;
    cr_assert_eq(nr_gen_fill(&o, a, NULL), NR_OK);
    o.threads = 3;
    cr_assert_eq(nr_gen_fill(&o, b, NULL), NR_OK);
    cr_assert(!memcmp(a, b, n * 8));
    o.seed = 43;
    cr_assert_eq(nr_gen_fill(&o, b, NULL), NR_OK);
    cr_assert(memcmp(a, b, n * 8) != 0, "another seed gives other data");
    free(a);
    free(b);
}

Test(gen, rows_follow_the_stated_model) {
    /* |y - (w.x + b)| <= noise for the stored x: the noise bound is exact in
     * f64 up to the two roundings of the sum (1e-12 absolute is ample), and
     * in f32 up to the rounding of y to float (ulp of |y| <= 8: 1e-6). */
    for (int t = 0; t < 2; t++) {
        nr_gen_opts o;
        nr_gen_defaults(&o);
        o.rows = 20000;
        o.features = 2;
        double w[2] = {-3.0, 0.25};
        o.weights = w;
        o.bias = 1.5;
        o.noise = 0.01;
        o.dtype = t ? NR_F64 : NR_F32;
        nr_dataset *ds;
        cr_assert_eq(nr_dataset_alloc(o.rows, 2, o.dtype, &ds, NULL), NR_OK);
        cr_assert_eq(nr_gen_fill(&o, nr_dataset_mutable(ds), NULL), NR_OK);
        const nr_data *d = nr_dataset_view(ds);
        double sx = 0, sxx = 0, maxdev = 0;
        for (size_t i = 0; i < o.rows; i++) {
            double x1 = at(d, i, 0), x2 = at(d, i, 1), y = at(d, i, 2);
            cr_assert(x1 >= -1 && x1 < 1 && x2 >= -1 && x2 < 1);
            double dev = fabs(y - (w[0] * x1 + w[1] * x2 + 1.5));
            if (dev > maxdev) maxdev = dev;
            sx += x1;
            sxx += x1 * x1;
        }
        cr_assert_leq(maxdev, 0.01 + (t ? 1e-12 : 1e-6), "max deviation %g", maxdev);
        cr_assert_geq(maxdev, 0.009, "noise present: %g", maxdev);
        /* U(-1,1): mean 0 (sd 0.577/sqrt(n) = 0.004), E x^2 = 1/3 */
        cr_assert_lt(fabs(sx / o.rows), 0.02);
        cr_assert_lt(fabs(sxx / o.rows - 1.0 / 3.0), 0.02);
        nr_dataset_free(ds);
    }
}

Test(gen, normal_features_have_unit_variance) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = 200000;
    o.dist = NR_DIST_NORMAL;
    o.dtype = NR_F64;
    double *v = malloc(o.rows * 2 * 8);
    cr_assert_eq(nr_gen_fill(&o, v, NULL), NR_OK);
    double s = 0, ss = 0, s4 = 0;
    for (size_t i = 0; i < o.rows; i++) {
        double x = v[2 * i];
        s += x, ss += x * x, s4 += x * x * x * x;
    }
    double m = s / o.rows, var = ss / o.rows - m * m;
    /* 5 standard errors: mean 5/sqrt(n) = 0.011, variance 5*sqrt(2/n) = 0.016,
     * fourth moment (3 for a normal) 5*sqrt(96/n) = 0.11 */
    cr_assert_lt(fabs(m), 0.011, "mean %g", m);
    cr_assert_lt(fabs(var - 1), 0.016, "variance %g", var);
    cr_assert_lt(fabs(s4 / o.rows - 3), 0.11, "kurtosis %g", s4 / o.rows);
    free(v);
}

static size_t count_files(const char *dir) {
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

Test(gen_cli, writes_npy_and_csv_and_prints_parameters) {
    char *dir = scratch_dir();
    char out[4096], out2[4096];
    snprintf(out, sizeof out, "%s/g.npy", dir);
    snprintf(out2, sizeof out2, "%s/g.csv", dir);
    const char *args[] = {
        "gen",    "--rows", "1000",   "--features",           "3",       "--weights", "1,-2,0.5",
        "--bias", "7",      "--seed", "18446744073709551615", "--dtype", "f64",       "--out",
        out,      NULL};
    run_result r;
    run_neuron(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "stdout is JSON: %s", r.out);
    cr_assert_eq(json_number_value(json_object_get(j, "rows")), 1000);
    cr_assert_eq(json_number_value(json_array_get(json_object_get(j, "weights"), 1)), -2);
    cr_assert_eq(json_number_value(json_object_get(j, "bias")), 7);
    cr_assert(strstr(r.out, "18446744073709551615"), "seed printed exactly");
    json_decref(j);
    run_free(&r);
    args[14] = out2;
    run_neuron(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    /* the CSV holds the same values as the .npy */
    nr_dataset *a, *b;
    cr_assert_eq(nr_dataset_load(out, NULL, &a, NULL), NR_OK);
    cr_assert_eq(nr_dataset_load(out2, NULL, &b, NULL), NR_OK);
    cr_assert(!memcmp(nr_dataset_view(a)->values, nr_dataset_view(b)->values, 1000 * 4 * 8));
    nr_dataset_free(a);
    nr_dataset_free(b);
    cr_assert_eq(count_files(dir), 2, "no temporary files left");
    free(dir);
}

Test(gen_cli, usage_errors_and_no_partial_output) {
    char *dir = scratch_dir();
    char out[4096], bad[4096];
    snprintf(out, sizeof out, "%s/x.npy", dir);
    snprintf(bad, sizeof bad, "%s/nodir/x.npy", dir);
    struct {
        const char *args[12];
        int code;
        const char *frag;
    } cases[] = {
        {{"gen", "--out", out, NULL}, 2, "--rows is required"},
        {{"gen", "--rows", "10", NULL}, 2, "--out is required"},
        {{"gen", "--rows", "0", "--out", out, NULL}, 2, "--rows"},
        {{"gen", "--rows", "10", "--features", "2", "--weights", "1", "--out", out, NULL},
         2,
         "1 value given"},
        {{"gen", "--rows", "10", "--weights", "1,x", "--out", out, NULL}, 2, "'x'"},
        {{"gen", "--rows", "10", "--dist", "cauchy", "--out", out, NULL}, 2, "uniform|normal"},
        {{"gen", "--rows", "10", "--seed", "-1", "--out", out, NULL}, 2, "--seed"},
        {{"gen", "--rows", "10", "--noise", "-1", "--out", out, NULL}, 2, "--noise"},
        {{"gen", "--rows", "10", "--out", "x.parquet", NULL}, 2, "unknown file type"},
        {{"gen", "--rows", "10", "--out", bad, NULL}, 1, "cannot create"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r;
        run_neuron(&r, cases[i].args);
        cr_assert_eq(r.status, cases[i].code, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert_eq(count_lines(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert(strstr(r.err, cases[i].frag), "case %zu: %s", i, r.err);
        cr_assert_eq(r.out_len, 0);
        run_free(&r);
    }
    cr_assert_eq(count_files(dir), 0, "nothing written");
    free(dir);
}

/* ---------------------------------------------- non-finite values at load -- */

/* The value k of a test column of dtype t: the extremes that are still
 * finite (largest, smallest subnormal, both signs, -0.0), or `bad` kind b
 * (0 NaN, 1 +Inf, 2 -Inf, 3 a NaN whose payload is one bit). */
static void put(nr_dtype t, void *v, size_t k, int ext, int bad) {
    static const double d64[] = {DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, -DBL_TRUE_MIN, -0.0, 1.0};
    static const float d32[] = {FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, -FLT_TRUE_MIN, -0.0f, 1.0f};
    static const uint16_t d16[] = {0x7bff, 0xfbff, 0x0001, 0x8001, 0x8000, 0x3c00};
    static const uint64_t b64[] = {0x7ff8000000000000u, 0x7ff0000000000000u, 0xfff0000000000000u,
                                   0x7ff0000000000001u};
    static const uint32_t b32[] = {0x7fc00000u, 0x7f800000u, 0xff800000u, 0x7f800001u};
    static const uint16_t b16[] = {0x7e00, 0x7c00, 0xfc00, 0x7c01};
    if (t == NR_F64)
        bad < 0 ? (void)(((double *)v)[k] = d64[ext]) : (void)memcpy((double *)v + k, &b64[bad], 8);
    else if (t == NR_F32)
        bad < 0 ? (void)(((float *)v)[k] = d32[ext]) : (void)memcpy((float *)v + k, &b32[bad], 4);
    else
        ((uint16_t *)v)[k] = bad < 0 ? d16[ext] : b16[bad];
}

Test(finite, every_block_is_scanned_and_the_first_bad_value_is_named) {
    /* 10000 rows of 16 values: three scan blocks of 65536 values, each
     * checked whole (without a branch a value) and walked again only where
     * it holds a bad value; the extremes of each type are finite. */
    const size_t rows = 10000, cols = 16, n = rows * cols;
    const char *what[] = {"NaN", "Inf", "-Inf", "NaN"};
    const nr_dtype types[] = {NR_F16, NR_F32, NR_F64};
    for (int ti = 0; ti < 3; ti++) {
        const nr_dtype t = types[ti];
        /* the type's own size: a scan past the end is a sanitizer's error */
        void *v = malloc(n * (t == NR_F64 ? 8 : t == NR_F32 ? 4 : 2));
        for (size_t k = 0; k < n; k++) put(t, v, k, (int)(k % 6), -1);
        nr_data d = {rows, cols - 1, t, v};
        nr_error err = {{0}};
        cr_assert_eq(nr_data_check_finite(&d, "x.npy", &err), NR_OK, "dtype %d: %s", t, err.msg);
        /* one bad value in each of the last blocks: the earlier one named;
         * one at the very end, at the very start, and first in a block */
        const size_t at[][2] = {{70001, 140003}, {65535, 65536}, {n - 1, n - 1},
                                {3, 150000},     {0, 0},         {65536, 65536}};
        for (size_t c = 0; c < sizeof at / sizeof at[0]; c++)
            for (int b = 0; b < 4; b++) {
                for (size_t k = 0; k < n; k++) put(t, v, k, (int)(k % 6), -1);
                put(t, v, at[c][1], 0, (b + 1) % 4);
                put(t, v, at[c][0], 0, b);
                nr_error e = {{0}};
                cr_assert_eq(nr_data_check_finite(&d, "x.npy", &e), NR_ERR_INPUT);
                char want[128];
                snprintf(want, sizeof want,
                         "x.npy: row %zu, column %zu: value is %s (expected a finite number)",
                         at[c][0] / cols + 1, at[c][0] % cols + 1, what[b]);
                cr_assert_str_eq(e.msg, want, "dtype %d case %zu kind %d: %s", t, c, b, e.msg);
            }
        free(v);
    }
}
