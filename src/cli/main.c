/* neuron: the command-line front end. A thin layer: find the subcommand,
 * let it parse its options, call the library, map the status to an exit
 * code. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"tutorial", cmd_tutorial, "reproduce the tutorial's per-sample SGD, byte for byte"},
    {"gen", cmd_gen, "generate synthetic linear data (.npy or .csv)"},
    {"train", cmd_train, "train by sgd, batch or minibatch gradient descent, ols or newton"},
    {"predict", cmd_predict, "predict with a saved model"},
    {"eval", cmd_eval, "MSE, RMSE, MAE and R^2 of a saved model on a data set"},
    {"bench", cmd_bench, "training throughput next to a streaming read of the same bytes"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: neuron <command> [options]\n"
               "       neuron <command> --help\n"
               "       neuron --version\n\n"
               "Train a single artificial neuron, y = phi(w.x + b), on millions of points.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 other failure, 2 usage, 3 bad input, 4 divergence\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("neuron %s\n", NR_VERSION_STRING);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    cli_error("unknown command '%s' (see 'neuron --help')", name);
    return EXIT_USAGE;
}
