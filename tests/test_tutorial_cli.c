/* `neuron tutorial` as a command: options, errors, exit codes, and a live
 * comparison with the project's Python transcription of the tutorial
 * (bench/peers/tutorial.py, doc/reference.md) on random seeds and options. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "neuron.h"
#include "util.h"

static void expect_usage_error(const char *const *args, const char *must_mention) {
    run_result r;
    run_neuron(&r, args);
    cr_assert_eq(r.status, 2, "%s %s: exit %d", args[1], args[2] ? args[2] : "", r.status);
    cr_assert_eq(r.out_len, 0, "nothing on stdout");
    cr_assert_eq(count_lines(r.err), 1, "one line on stderr: %s", r.err);
    cr_assert(!strncmp(r.err, "neuron: error: ", 15), "stderr: %s", r.err);
    cr_assert(strstr(r.err, must_mention), "stderr should mention '%s': %s", must_mention, r.err);
    run_free(&r);
}

Test(tutorial_cli, bad_values_exit_2_naming_option_and_range) {
    const char *a1[] = {"tutorial", "--epochs", "-5", NULL};
    expect_usage_error(a1, "--epochs");
    expect_usage_error(a1, "[0, ");
    const char *a2[] = {"tutorial", "--lr", "abc", NULL};
    expect_usage_error(a2, "--lr");
    const char *a3[] = {"tutorial", "--every", "0", NULL};
    expect_usage_error(a3, "[1, ");
    const char *a4[] = {"tutorial", "--seed", "4x2", NULL};
    expect_usage_error(a4, "--seed");
    const char *a5[] = {"tutorial", "--samples", "99999999999999999999", NULL};
    expect_usage_error(a5, "--samples");
    const char *a6[] = {"tutorial", "--lr", "nan", NULL};
    expect_usage_error(a6, "--lr");
    const char *a7[] = {"tutorial", "--lr", "0", NULL};
    expect_usage_error(a7, "(0, ");
    const char *a8[] = {"tutorial", "--epochs", NULL};
    expect_usage_error(a8, "missing value");
}

Test(tutorial_cli, unknown_option_and_command_exit_2) {
    const char *a1[] = {"tutorial", "--epoch", "5", NULL};
    expect_usage_error(a1, "--epoch");
    const char *a2[] = {"tutorials", NULL};
    expect_usage_error(a2, "tutorials");
}

/* --fast writes its lines with write(2) rather than through stdio: a full
 * device must still be a failure (exit 1, one line naming the error). */
Test(tutorial_cli, fast_on_dev_full_fails_with_one_line) {
    if (access("/dev/full", W_OK) != 0) cr_skip_test("no /dev/full");
    char *dir = scratch_dir(), errp[4096];
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    const char *const variants[][6] = {{"tutorial", "--fast", NULL},
                                       {"tutorial", "--fast", "--every", "1", NULL}};
    for (size_t k = 0; k < 2; k++) {
        const int status = wait_neuron(start_neuron(variants[k], "/dev/full", errp), 30);
        char *err = read_file(errp, NULL);
        cr_assert(err, "no stderr file");
        cr_expect_eq(status, 1, "variant %zu: exit %d: %s", k, status, err);
        cr_expect(!strncmp(err, "neuron: error: ", 15) && count_lines(err) == 1 &&
                      strstr(err, "No space left on device"),
                  "variant %zu: %s", k, err);
        free(err);
        remove(errp);
    }
    remove(dir);
    free(dir);
}

Test(tutorial_cli, help_and_version) {
    run_result r;
    const char *h[] = {"--help", NULL};
    run_neuron(&r, h);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "tutorial"));
    run_free(&r);
    const char *th[] = {"tutorial", "--help", NULL};
    run_neuron(&r, th);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--seed") && strstr(r.out, "--every"));
    run_free(&r);
    const char *v[] = {"--version", NULL};
    run_neuron(&r, v);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, "neuron " NR_VERSION_STRING "\n");
    run_free(&r);
}

Test(tutorial_cli, equals_form_and_separate_value_agree) {
    run_result a, b;
    const char *x[] = {"tutorial", "--seed=3", "--epochs=300", NULL};
    const char *y[] = {"tutorial", "--seed", "3", "--epochs", "300", NULL};
    run_neuron(&a, x);
    run_neuron(&b, y);
    cr_assert_eq(a.status, 0);
    cr_assert_str_eq(a.out, b.out);
    cr_assert_eq(count_lines(a.out), 3);
    run_free(&a);
    run_free(&b);
}

Test(tutorial_cli, matches_live_python_transcription_for_random_seeds, .timeout = 300) {
    const char *python = transcription_path();
    if (!python) cr_skip_test("python3 (or bench/peers/tutorial.py) is not available");
    srand((unsigned)time(NULL));
    for (int k = 0; k < 4; k++) {
        /* A random seed of up to 40 digits, either sign, and random options. */
        char seed[48], samples[16], epochs[16], every[16];
        int len = 1 + rand() % 40, pos = 0;
        if (rand() % 2) seed[pos++] = '-';
        for (int i = 0; i < len; i++)
            seed[pos++] = (char)('0' + (i == 0 ? 1 + rand() % 9 : rand() % 10));
        seed[pos] = '\0';
        snprintf(samples, sizeof samples, "%d", 1 + rand() % 150);
        snprintf(epochs, sizeof epochs, "%d", 200 + rand() % 1500);
        snprintf(every, sizeof every, "%d", 1 + rand() % 50);
        const char *py[] = {"python3",  python, "--seed",  seed,  "--samples", samples,
                            "--epochs", epochs, "--every", every, NULL};
        const char *ne[] = {"tutorial", "--seed", seed,      "--samples", samples,
                            "--epochs", epochs,   "--every", every,       NULL};
        run_result p, n;
        run_program(&p, py);
        run_neuron(&n, ne);
        cr_assert_eq(p.status, n.status, "seed %s: python exit %d, neuron %d", seed, p.status,
                     n.status);
        cr_assert(
            p.out_len == n.out_len && !memcmp(p.out, n.out, p.out_len),
            "seed %s samples %s epochs %s every %s: output differs from the Python transcription",
            seed, samples, epochs, every);
        run_free(&p);
        run_free(&n);
    }
}

/* tests/golden/make_tutorial.sh rewrites committed files: a missing script
 * or one that fails partway must leave every one of them as it was. */
Test(tutorial_cli, make_tutorial_leaves_golden_files_alone_on_failure, .timeout = 60) {
    char *make = source_path("tests/golden/make_tutorial.sh");
    char *golden = source_path("tests/golden/tutorial/seed42.txt");
    size_t before_len, after_len;
    char *before = read_file(golden, &before_len);
    cr_assert(before && before_len > 0, "cannot read %s", golden);

    char *dir = scratch_dir();
    char failing[4096];
    snprintf(failing, sizeof failing, "%s/fails.py", dir);
    FILE *f = fopen(failing, "w");
    cr_assert(f);
    fputs("import sys\nprint('Epoch: 100, Loss: 1.0000, Weight: 0.0000, Bias: 0.0000')\n"
          "sys.exit(3)\n",
          f);
    fclose(f);
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/no-such-script.py", dir);
    const char *scripts[] = {missing, failing};
    for (int k = 0; k < 2; k++) {
        const char *argv[] = {"bash", make, scripts[k], NULL};
        run_result r;
        run_program(&r, argv);
        cr_assert_neq(r.status, 0, "make_tutorial.sh %s should fail", scripts[k]);
        cr_assert(strstr(r.err, "make_tutorial.sh: "), "stderr: %s", r.err);
        run_free(&r);
        char *after = read_file(golden, &after_len);
        cr_assert(after && after_len == before_len && !memcmp(after, before, before_len),
                  "%s changed after a failed run with %s", golden, scripts[k]);
        free(after);
    }
    char names[256];
    char *gdir = source_path("tests/golden/tutorial");
    size_t n = dir_entries(gdir, names, sizeof names);
    cr_assert(!strstr(names, ".make."), "a temporary folder was left in %s: %s (%zu)", gdir, names,
              n);
    free(gdir);
    free(before);
    free(golden);
    free(make);
    free(dir);
}
