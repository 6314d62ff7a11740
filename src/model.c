/* Models: allocation, and the JSON file format
 *   {"format": "neuron-model", "version": 1, "features": D,
 *    "activation": "identity" | "sigmoid" | "step" (missing: identity),
 *    "weights": [...], "bias": b,
 *    "standardization": null | {"mean": [...], "std": [...]},
 *    "training": {...}}
 * Numbers are printed so that they read back to the same bits (cJSON tries
 * 15 significant digits and falls back to 17). Files are written atomically. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
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

/* cJSON prints with 15 digits unless they fail to read back, but it checks
 * that with a tolerance of one epsilon, so 1 + 2^-52 is printed as "1". The
 * numbers are printed here instead: the shortest of 15, 16 or 17 significant
 * digits that strtod reads back to the same bits. */
cJSON *nr_json_number(double v) {
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}

static cJSON *array_of(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, nr_json_number(v[i]));
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
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", MODEL_FORMAT);
    cJSON_AddNumberToObject(j, "version", MODEL_VERSION);
    cJSON_AddNumberToObject(j, "features", (double)m->features);
    cJSON_AddStringToObject(j, "activation", activation_names[m->activation]);
    cJSON_AddItemToObject(j, "weights", array_of(m->weights, m->features));
    cJSON_AddItemToObject(j, "bias", nr_json_number(m->bias));
    if (m->standardized && m->mean && m->std) {
        cJSON *st = cJSON_AddObjectToObject(j, "standardization");
        cJSON_AddItemToObject(st, "mean", array_of(m->mean, m->features));
        cJSON_AddItemToObject(st, "std", array_of(m->std, m->features));
    } else {
        cJSON_AddNullToObject(j, "standardization");
    }
    if (o) {
        cJSON *t = cJSON_AddObjectToObject(j, "training");
        cJSON_AddStringToObject(t, "algo", algo_name(o->algo));
        cJSON_AddNumberToObject(t, "epochs", (double)o->epochs);
        cJSON_AddItemToObject(t, "lr", nr_json_number(o->lr));
        if (o->algo == NR_ALGO_MINIBATCH) cJSON_AddNumberToObject(t, "batch", (double)o->batch);
        /* as an integer, exactly: a double would round seeds above 2^53 */
        char seed[24];
        snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
        cJSON_AddRawToObject(t, "seed", seed);
        cJSON_AddBoolToObject(t, "standardize", o->standardize);
        cJSON_AddItemToObject(t, "val_split", nr_json_number(o->val_split));
        /* what shaped the weights */
        static const char *schedules[] = {"constant", "invscaling", "step", "cosine"};
        cJSON_AddItemToObject(t, "l2", nr_json_number(o->l2));
        cJSON_AddItemToObject(t, "l1", nr_json_number(o->l1));
        cJSON_AddStringToObject(t, "loss", o->loss == NR_LOSS_HUBER ? "huber" : "default");
        if (o->loss == NR_LOSS_HUBER) cJSON_AddItemToObject(t, "delta", nr_json_number(o->delta));
        cJSON_AddStringToObject(t, "lr_schedule", schedules[o->lr_schedule % 4]);
        if (o->lr_schedule == NR_LR_INVSCALING)
            cJSON_AddItemToObject(t, "power_t", nr_json_number(o->power_t));
        if (o->lr_schedule == NR_LR_STEP) {
            cJSON_AddNumberToObject(t, "lr_step", (double)o->lr_step);
            cJSON_AddItemToObject(t, "lr_gamma", nr_json_number(o->lr_gamma));
        }
        cJSON_AddItemToObject(t, "momentum", nr_json_number(o->momentum));
        cJSON_AddBoolToObject(t, "nesterov", o->nesterov);
        cJSON_AddBoolToObject(t, "average", o->average);
        cJSON_AddStringToObject(t, "on_divergence",
                                o->on_divergence == NR_DIVERGE_BACKOFF ? "backoff" : "stop");
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    size_t len = text ? strlen(text) : 0;
    char *out = text ? malloc(len + 2) : NULL;
    if (!out) {
        cJSON_free(text);
        *st = nr_fail(err, NR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(out, text, len);
    memcpy(out + len, "\n", 2);
    cJSON_free(text);
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

static nr_status read_array(const char *path, const cJSON *a, const char *name, size_t n,
                            double *out, nr_error *err) {
    if (!cJSON_IsArray(a))
        return nr_fail(err, NR_ERR_INPUT, "%s: field '%s' is %s (expected an array of %zu numbers)",
                       path, name, a ? "not an array" : "missing", n);
    if ((size_t)cJSON_GetArraySize(a) != n)
        return nr_fail(err, NR_ERR_INPUT, "%s: field '%s' has %d values (expected %zu)", path, name,
                       cJSON_GetArraySize(a), n);
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return nr_fail(err, NR_ERR_INPUT, "%s: %s[%zu] is not a finite number", path, name, i);
        out[i] = e->valuedouble;
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
static unsigned activation_of(const cJSON *act) {
    if (!act) return NR_ACT_IDENTITY;
    unsigned a = 0;
    if (cJSON_IsString(act))
        while (a < ACTIVATIONS && strcmp(act->valuestring, activation_names[a])) a++;
    return cJSON_IsString(act) ? a : ACTIVATIONS;
}

nr_status nr_model_parse(nr_model *m, const char *path, const char *text, size_t len,
                         nr_error *err) {
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) text += 3, len -= 3; /* UTF-8 BOM */
    if (len == 0) return nr_fail(err, NR_ERR_INPUT, "%s: empty model file", path);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) return nr_fail(err, NR_ERR_INPUT, "%s: not valid JSON", path);
    /* Strict: one object and nothing after it but blanks. Two models pasted
     * together, or a model with a tail, are not silently half-read. */
    size_t used = end ? (size_t)(end - text) : len;
    while (used < len &&
           (text[used] == ' ' || text[used] == '\t' || text[used] == '\n' || text[used] == '\r'))
        used++;
    if (used < len) {
        size_t line = 1;
        for (size_t i = 0; i < used; i++) line += text[i] == '\n';
        cJSON_Delete(j);
        return nr_fail(err, NR_ERR_INPUT,
                       "%s:%zu: %zu bytes after the model's JSON object (expected nothing but "
                       "blanks)",
                       path, line, len - used);
    }
    nr_status s = NR_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *feat = cJSON_GetObjectItemCaseSensitive(j, "features");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "activation");
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(j, "bias");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "standardization");
    unsigned activation = NR_ACT_IDENTITY;
    if (!cJSON_IsObject(j) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, MODEL_FORMAT))
        s = nr_fail(err, NR_ERR_INPUT, "%s: not a neuron model (expected \"format\": \"%s\")", path,
                    MODEL_FORMAT);
    else if (!cJSON_IsNumber(ver) || ver->valuedouble != floor(ver->valuedouble))
        s = nr_fail(err, NR_ERR_INPUT, "%s: field 'version' is missing or not an integer", path);
    else if (ver->valuedouble > MODEL_VERSION || ver->valuedouble < 1)
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: model format version %g is not supported (this neuron reads version %d)",
                    path, ver->valuedouble, MODEL_VERSION);
    else if (!cJSON_IsNumber(feat) || feat->valuedouble < 1 || feat->valuedouble > (1 << 24) ||
             feat->valuedouble != floor(feat->valuedouble))
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: field 'features' is missing or not an integer in [1, 2^24]", path);
    else if ((activation = activation_of(act)) == ACTIVATIONS)
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: activation '%s' is not supported (expected \"identity\", \"sigmoid\" "
                    "or \"step\")",
                    path, cJSON_IsString(act) ? act->valuestring : "?");
    else if (!cJSON_IsNumber(bias) || !isfinite(bias->valuedouble))
        s = nr_fail(err, NR_ERR_INPUT, "%s: field 'bias' is missing or not a finite number", path);
    else if (st && !cJSON_IsNull(st) && !cJSON_IsObject(st))
        s = nr_fail(err, NR_ERR_INPUT, "%s: field 'standardization' is neither null nor an object",
                    path);
    nr_model t;
    memset(&t, 0, sizeof t);
    if (s == NR_OK) s = nr_model_init(&t, (size_t)feat->valuedouble, err);
    if (s == NR_OK)
        s = read_array(path, cJSON_GetObjectItemCaseSensitive(j, "weights"), "weights", t.features,
                       t.weights, err);
    if (s == NR_OK) t.bias = bias->valuedouble, t.activation = (nr_activation)activation;
    if (s == NR_OK && cJSON_IsObject(st)) {
        t.mean = malloc(t.features * sizeof *t.mean);
        t.std = malloc(t.features * sizeof *t.std);
        t.standardized = true;
        if (!t.mean || !t.std) s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
        if (s == NR_OK)
            s = read_array(path, cJSON_GetObjectItemCaseSensitive(st, "mean"),
                           "standardization.mean", t.features, t.mean, err);
        if (s == NR_OK)
            s = read_array(path, cJSON_GetObjectItemCaseSensitive(st, "std"), "standardization.std",
                           t.features, t.std, err);
    }
    cJSON_Delete(j);
    if (s != NR_OK) {
        nr_model_free(&t);
        return s;
    }
    *m = t;
    return NR_OK;
}
