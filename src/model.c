/* Models: allocation, and the JSON file format
 *   {"format": "neuron-model", "version": 1, "features": D,
 *    "activation": "identity", "weights": [...], "bias": b,
 *    "standardization": null | {"mean": [...], "std": [...]},
 *    "training": {...}}
 * Numbers are printed so that they read back to the same bits (cJSON tries
 * 15 significant digits and falls back to 17). Files are written atomically. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

nr_status nr_model_save(const nr_model *m, const nr_train_opts *o, const char *path,
                        nr_error *err) {
    if (!isfinite(m->bias)) return nr_fail(err, NR_ERR_ARG, "model has a non-finite bias");
    for (size_t j = 0; j < m->features; j++)
        if (!isfinite(m->weights[j]))
            return nr_fail(err, NR_ERR_ARG, "model weight %zu is not finite", j + 1);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", MODEL_FORMAT);
    cJSON_AddNumberToObject(j, "version", MODEL_VERSION);
    cJSON_AddNumberToObject(j, "features", (double)m->features);
    cJSON_AddStringToObject(j, "activation", "identity");
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
        cJSON_AddNumberToObject(t, "seed", (double)o->seed);
        cJSON_AddBoolToObject(t, "standardize", o->standardize);
        cJSON_AddItemToObject(t, "val_split", nr_json_number(o->val_split));
        /* SPEC section 8: what shaped the weights */
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
    if (!text) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    size_t len = strlen(text);
    text[len] = '\n'; /* cJSON_Print's buffer ends with the NUL we overwrite */
    nr_status s = nr_write_file_atomic(path, text, len + 1, err);
    cJSON_free(text);
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

nr_status nr_model_load(nr_model *m, const char *path, nr_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return nr_fail(err, NR_ERR_INPUT, "%s: cannot open model", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > ((size_t)1 << 30)) {
                free(buf);
                fclose(f);
                return nr_fail(err, NR_ERR_INPUT, "%s: model file too large", path);
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return nr_fail(err, NR_ERR_NOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0) break;
    }
    fclose(f);
    buf[len] = '\0';
    if (len == 0) {
        free(buf);
        return nr_fail(err, NR_ERR_INPUT, "%s: empty model file", path);
    }
    nr_status s = nr_model_parse(m, path, buf, len, err);
    free(buf);
    return s;
}

nr_status nr_model_parse(nr_model *m, const char *path, const char *text, size_t len,
                         nr_error *err) {
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) return nr_fail(err, NR_ERR_INPUT, "%s: not valid JSON", path);
    nr_status s = NR_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *feat = cJSON_GetObjectItemCaseSensitive(j, "features");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "activation");
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(j, "bias");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "standardization");
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
    else if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "identity")))
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: activation '%s' is not supported (expected \"identity\")", path,
                    cJSON_IsString(act) ? act->valuestring : "?");
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
    if (s == NR_OK) t.bias = bias->valuedouble;
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
