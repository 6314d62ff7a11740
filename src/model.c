/* Models: allocation, and the JSON file format
 *   {"format": "neuron-model", "version": 1, "features": D,
 *    "activation": "identity" | "sigmoid" | "step" (missing: identity),
 *    "weights": [...], "bias": b,
 *    "standardization": null | {"mean": [...], "std": [...]},
 *    "training": {...}}
 * Reals are printed with 17 significant digits, so that they read back to
 * the same bits; counts are integers. Files are written atomically. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

#define MODEL_FORMAT "neuron-model"
#define MODEL_VERSION 1

nr_status nr_model_init(nr_model *m, size_t features, nr_error *err) {
    memset(m, 0, sizeof *m);
    if (features == 0 || features > ((size_t)1 << 24))
        return nr_fail(err, NR_ERR_ARG, "features %zu out of range [1, 2^24]", features);
    m->weights = calloc(features, sizeof *m->weights);
    if (!m->weights) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    m->features = features;
    return NR_OK;
}

void nr_model_free(nr_model *m) {
    if (!m) return;
    free(m->weights);
    free(m->mean);
    free(m->std);
    memset(m, 0, sizeof *m);
}

json_t *nr_json_real(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* jansson's integers are signed 64-bit: n >= 2^63 is held as n - 2^64 and
 * printed back unsigned by nr_json_dump. Counts and seeds are the only
 * integers written, so a negative one can only be such a value. */
json_t *nr_json_count(uint64_t n) {
    return json_integer((json_int_t)n);
}

/* Length of the UTF-8 sequence at s (1-4), 0 if it is not one (overlong
 * forms, surrogates and code points above U+10FFFF included: RFC 3629). */
static size_t utf8_length(const unsigned char *s) {
    unsigned c = s[0], need, min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x3fu >> need);
    for (unsigned k = 1; k <= need; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0; /* a NUL ends it here too */
        cp = cp << 6 | (s[k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return need + 1;
}

json_t *nr_json_text(const char *s) {
    json_t *j = json_string(s);
    if (j) return j;
    /* not UTF-8 (or out of memory): each stray byte becomes U+FFFD */
    size_t n = strlen(s);
    char *t = malloc(3 * n + 1), *o = t;
    if (!t) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_length(p);
        if (k) {
            memcpy(o, p, k), o += k, p += k;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3), o += 3, p++;
        }
    }
    *o = '\0';
    j = json_string(t);
    free(t);
    return j;
}

/* Where the negative integer at t[i] (outside strings) ends, or 0 if t[i]
 * starts no such token: a value starts after a blank, '[', ',' or ':' (not
 * an exponent's sign), and a real has '.', 'e' or 'E' after its digits. */
static size_t negative_integer_end(const char *t, size_t i) {
    if (i == 0 || !strchr(" \n[,:", t[i - 1])) return 0;
    if (t[i] != '-' || t[i + 1] < '0' || t[i + 1] > '9') return 0;
    size_t e = i + 1;
    while (t[e] >= '0' && t[e] <= '9') e++;
    return t[e] == '.' || t[e] == 'e' || t[e] == 'E' ? 0 : e;
}

char *nr_json_dump(const json_t *j) {
    if (!j) return NULL;
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!t) return NULL;
    /* count the seeds at 2^63 and above (see nr_json_count) */
    size_t big = 0, len = 0;
    for (bool in_string = false; t[len]; len++) {
        if (in_string && t[len] == '\\')
            len++;
        else if (t[len] == '"')
            in_string = !in_string;
        else if (!in_string)
            big += negative_integer_end(t, len) != 0;
    }
    if (!big) return t;
    char *out = malloc(len + 20 * big + 1), *o = out;
    if (!out) {
        free(t);
        return NULL;
    }
    bool in_string = false;
    for (size_t i = 0; i < len;) {
        size_t e = in_string ? 0 : negative_integer_end(t, i);
        if (e) {
            o += sprintf(o, "%" PRIu64, (uint64_t)strtoll(t + i, NULL, 10));
            i = e;
            continue;
        }
        if (in_string && t[i] == '\\')
            *o++ = t[i++];
        else if (t[i] == '"')
            in_string = !in_string;
        *o++ = t[i++];
    }
    *o = '\0';
    free(t);
    return out;
}

static json_t *array_of(const double *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) json_array_append_new(a, nr_json_real(v[i]));
    return a;
}

/* The file's names of the activations, indexed by nr_activation. */
static const char *const activation_names[] = {"identity", "sigmoid", "step"};
enum { ACTIVATIONS = sizeof activation_names / sizeof activation_names[0] };

static const char *algo_name(nr_algo a) {
    switch (a) {
    case NR_ALGO_SGD:
        return "sgd";
    case NR_ALGO_BATCH:
        return "batch";
    case NR_ALGO_MINIBATCH:
        return "minibatch";
    case NR_ALGO_OLS:
        return "ols";
    case NR_ALGO_NEWTON:
        return "newton";
    }
    return "?";
}

char *nr_model_text(const nr_model *m, const nr_train_opts *o, nr_error *err, nr_status *st) {
    *st = NR_ERR_ARG;
    if (!isfinite(m->bias)) {
        nr_fail(err, NR_ERR_ARG, "model has a non-finite bias");
        return NULL;
    }
    for (size_t j = 0; j < m->features; j++)
        if (!isfinite(m->weights[j])) {
            nr_fail(err, NR_ERR_ARG, "model weight %zu is not finite", j + 1);
            return NULL;
        }
    if ((unsigned)m->activation >= ACTIVATIONS) {
        nr_fail(err, NR_ERR_ARG, "model activation %d is not one of nr_activation",
                (int)m->activation);
        return NULL;
    }
    json_t *j = json_object();
    json_object_set_new(j, "format", json_string(MODEL_FORMAT));
    json_object_set_new(j, "version", json_integer(MODEL_VERSION));
    json_object_set_new(j, "features", nr_json_count(m->features));
    json_object_set_new(j, "activation", json_string(activation_names[m->activation]));
    json_object_set_new(j, "weights", array_of(m->weights, m->features));
    json_object_set_new(j, "bias", nr_json_real(m->bias));
    if (m->standardized && m->mean && m->std) {
        json_t *st = json_object();
        json_object_set_new(st, "mean", array_of(m->mean, m->features));
        json_object_set_new(st, "std", array_of(m->std, m->features));
        json_object_set_new(j, "standardization", st);
    } else {
        json_object_set_new(j, "standardization", json_null());
    }
    if (o) {
        json_t *t = json_object();
        json_object_set_new(t, "algo", json_string(algo_name(o->algo)));
        json_object_set_new(t, "epochs", nr_json_count((uint64_t)o->epochs));
        json_object_set_new(t, "lr", nr_json_real(o->lr));
        if (o->algo == NR_ALGO_MINIBATCH)
            json_object_set_new(t, "batch", nr_json_count((uint64_t)o->batch));
        /* as an integer, exactly: a double would round seeds above 2^53 */
        json_object_set_new(t, "seed", nr_json_count(o->seed));
        json_object_set_new(t, "standardize", json_boolean(o->standardize));
        json_object_set_new(t, "val_split", nr_json_real(o->val_split));
        /* what shaped the weights */
        static const char *schedules[] = {"constant", "invscaling", "step", "cosine"};
        json_object_set_new(t, "l2", nr_json_real(o->l2));
        json_object_set_new(t, "l1", nr_json_real(o->l1));
        json_object_set_new(t, "loss", json_string(o->loss == NR_LOSS_HUBER ? "huber" : "default"));
        if (o->loss == NR_LOSS_HUBER) json_object_set_new(t, "delta", nr_json_real(o->delta));
        json_object_set_new(t, "lr_schedule", json_string(schedules[o->lr_schedule % 4]));
        if (o->lr_schedule == NR_LR_INVSCALING)
            json_object_set_new(t, "power_t", nr_json_real(o->power_t));
        if (o->lr_schedule == NR_LR_STEP) {
            json_object_set_new(t, "lr_step", nr_json_count((uint64_t)o->lr_step));
            json_object_set_new(t, "lr_gamma", nr_json_real(o->lr_gamma));
        }
        json_object_set_new(t, "momentum", nr_json_real(o->momentum));
        json_object_set_new(t, "nesterov", json_boolean(o->nesterov));
        json_object_set_new(t, "average", json_boolean(o->average));
        json_object_set_new(
            t, "on_divergence",
            json_string(o->on_divergence == NR_DIVERGE_BACKOFF ? "backoff" : "stop"));
        json_object_set_new(j, "training", t);
    }
    char *text = nr_json_dump(j);
    json_decref(j);
    size_t len = text ? strlen(text) : 0;
    char *out = text ? realloc(text, len + 2) : NULL;
    if (!out) {
        free(text);
        *st = nr_fail(err, NR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(out + len, "\n", 2);
    *st = NR_OK;
    return out;
}

nr_status nr_model_save(const nr_model *m, const nr_train_opts *o, const char *path,
                        nr_error *err) {
    nr_status s;
    char *text = nr_model_text(m, o, err, &s);
    if (!text) return s;
    s = nr_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return s;
}

static nr_status read_array(const char *path, const json_t *a, const char *name, size_t n,
                            double *out, nr_error *err) {
    if (!json_is_array(a))
        return nr_fail(err, NR_ERR_INPUT, "%s: field '%s' is %s (expected an array of %zu numbers)",
                       path, name, a ? "not an array" : "missing", n);
    if (json_array_size(a) != n)
        return nr_fail(err, NR_ERR_INPUT, "%s: field '%s' has %zu values (expected %zu)", path,
                       name, json_array_size(a), n);
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e) {
        if (!json_is_number(e) || !isfinite(json_number_value(e)))
            return nr_fail(err, NR_ERR_INPUT, "%s: %s[%zu] is not a finite number", path, name, i);
        out[i] = json_number_value(e);
    }
    return NR_OK;
}

nr_status nr_model_load(const char *path, nr_model *m, nr_error *err) {
    int fd;
    size_t size;
    nr_status s = nr_open_input(path, "a model (JSON)", &fd, &size, err);
    if (s != NR_OK) {
        const int saved = errno;
        /* say what was expected in this file; other refusals as they are */
        if (err && strstr(err->msg, ": empty file"))
            nr_fail(err, s, "%s: empty model file", path);
        else if (err && strstr(err->msg, ": cannot open: "))
            nr_fail(err, s, "%s: cannot open model: %s", path, strerror(saved));
        return s;
    }
    if (size > ((size_t)1 << 30)) {
        close(fd);
        return nr_fail(err, NR_ERR_INPUT, "%s: model file too large (%zu bytes)", path, size);
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    size_t len = 0;
    while (len < size) {
        ssize_t k = read(fd, buf + len, size - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int saved = errno;
            close(fd);
            free(buf);
            return nr_fail(err, NR_ERR_INPUT, "%s: cannot read: %s", path, strerror(saved));
        }
        if (k == 0) break; /* it shrank: parse what there is */
        len += (size_t)k;
    }
    close(fd);
    buf[len] = '\0';
    s = nr_model_parse(m, path, buf, len, err);
    free(buf);
    return s;
}

/* Index of the field's activation; files written before the activation
 * existed hold linear models. ACTIVATIONS for an unknown one. */
static unsigned activation_of(const json_t *act) {
    if (!act) return NR_ACT_IDENTITY;
    unsigned a = 0;
    if (json_is_string(act))
        while (a < ACTIVATIONS && strcmp(json_string_value(act), activation_names[a])) a++;
    return json_is_string(act) ? a : ACTIVATIONS;
}

static bool number_char(char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

nr_status nr_model_parse(nr_model *m, const char *path, const char *text, size_t len,
                         nr_error *err) {
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) text += 3, len -= 3; /* UTF-8 BOM */
    if (len == 0) return nr_fail(err, NR_ERR_INPUT, "%s: empty model file", path);
    /* Integers as doubles, as every number of the model is read: a seed
     * beyond 2^63 - 1 (written exactly) does not stop the file from loading.
     * A key given twice is refused rather than one of its values picked. */
    const size_t flags =
        JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK;
    json_error_t jerr;
    json_t *j;
    /* A number beyond the doubles (1e999) is a syntax error to jansson;
     * such a number is read as null instead, so that the field it stands in
     * refuses it as not a finite number, naming the field (at most 64 of
     * them: then the syntax error). */
    char *copy = NULL;
    for (int tries = 0;; tries++) {
        j = json_loadb(copy ? copy : text, len, flags, &jerr);
        if (j || json_error_code(&jerr) != json_error_numeric_overflow || tries == 64) break;
        if (!copy && (copy = malloc(len))) memcpy(copy, text, len);
        if (!copy) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
        size_t end = (size_t)jerr.position, start = end;
        while (start > 0 && number_char(copy[start - 1])) start--;
        if (end > len || end - start < 4) break; /* (an overflow takes 5 characters) */
        memcpy(copy + start, "null", 4);
        memset(copy + start + 4, ' ', end - start - 4);
    }
    free(copy);
    if (!j)
        return nr_fail(err, NR_ERR_INPUT, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
                       jerr.column, jerr.text);
    /* Strict: one object and nothing after it but blanks. Two models pasted
     * together, or a model with a tail, are not silently half-read. */
    size_t used = (size_t)jerr.position < len ? (size_t)jerr.position : len;
    while (used < len &&
           (text[used] == ' ' || text[used] == '\t' || text[used] == '\n' || text[used] == '\r'))
        used++;
    if (used < len) {
        size_t line = 1;
        for (size_t i = 0; i < used; i++) line += text[i] == '\n';
        json_decref(j);
        return nr_fail(err, NR_ERR_INPUT,
                       "%s:%zu: %zu bytes after the model's JSON object (expected nothing but "
                       "blanks)",
                       path, line, len - used);
    }
    nr_status s = NR_OK;
    const json_t *fmt = json_object_get(j, "format");
    const json_t *ver = json_object_get(j, "version");
    const json_t *feat = json_object_get(j, "features");
    const json_t *act = json_object_get(j, "activation");
    const json_t *bias = json_object_get(j, "bias");
    const json_t *st = json_object_get(j, "standardization");
    const double version = json_number_value(ver), features = json_number_value(feat);
    unsigned activation = NR_ACT_IDENTITY;
    if (!json_is_object(j) || !json_is_string(fmt) || strcmp(json_string_value(fmt), MODEL_FORMAT))
        s = nr_fail(err, NR_ERR_INPUT, "%s: not a neuron model (expected \"format\": \"%s\")", path,
                    MODEL_FORMAT);
    else if (!json_is_number(ver) || version != floor(version))
        s = nr_fail(err, NR_ERR_INPUT, "%s: field 'version' is missing or not an integer", path);
    else if (version > MODEL_VERSION || version < 1)
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: model format version %g is not supported (this neuron reads version %d)",
                    path, version, MODEL_VERSION);
    else if (!json_is_number(feat) || features < 1 || features > (1 << 24) ||
             features != floor(features))
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: field 'features' is missing or not an integer in [1, 2^24]", path);
    else if ((activation = activation_of(act)) == ACTIVATIONS)
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: activation '%s' is not supported (expected \"identity\", \"sigmoid\" "
                    "or \"step\")",
                    path, json_is_string(act) ? json_string_value(act) : "?");
    else if (!json_is_number(bias) || !isfinite(json_number_value(bias)))
        s = nr_fail(err, NR_ERR_INPUT, "%s: field 'bias' is missing or not a finite number", path);
    else if (st && !json_is_null(st) && !json_is_object(st))
        s = nr_fail(err, NR_ERR_INPUT, "%s: field 'standardization' is neither null nor an object",
                    path);
    nr_model t;
    memset(&t, 0, sizeof t);
    if (s == NR_OK) s = nr_model_init(&t, (size_t)features, err);
    if (s == NR_OK)
        s = read_array(path, json_object_get(j, "weights"), "weights", t.features, t.weights, err);
    if (s == NR_OK) t.bias = json_number_value(bias), t.activation = (nr_activation)activation;
    if (s == NR_OK && json_is_object(st)) {
        t.mean = malloc(t.features * sizeof *t.mean);
        t.std = malloc(t.features * sizeof *t.std);
        t.standardized = true;
        if (!t.mean || !t.std) s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
        if (s == NR_OK)
            s = read_array(path, json_object_get(st, "mean"), "standardization.mean", t.features,
                           t.mean, err);
        if (s == NR_OK)
            s = read_array(path, json_object_get(st, "std"), "standardization.std", t.features,
                           t.std, err);
    }
    json_decref(j);
    if (s != NR_OK) {
        nr_model_free(&t);
        return s;
    }
    *m = t;
    return NR_OK;
}
