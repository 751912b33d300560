/* cli.h — the command line: argument parsing and the subcommands (serve, index, search,
 * status). Exit codes: 0 ok, 1 failure, 2 usage error. */
#ifndef EMBECODE_CLI_H
#define EMBECODE_CLI_H

#define EMBECODE_VERSION "0.1.0"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Runs embecode with the process arguments; returns the exit code. */
int cli_main(int argc, char **argv);

#endif
