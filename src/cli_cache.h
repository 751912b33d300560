/* cli_cache.h — the cache commands of the CLI (DESIGN §2 "Cache"):
 *   embecode cache status [--json] | cache clean | cache purge [PATH|.]
 * Separate from cli.c because they work on the registry of all projects (cache.h), not on
 * one project's index. */
#ifndef EMBECODE_CLI_CACHE_H
#define EMBECODE_CLI_CACHE_H

/* argv[0] is "cache"; project_path is the global --path (NULL = current directory): the
 * project whose configuration gives cache.max_size, and what `purge` without PATH deletes
 * when given. Returns an exit code (cli.h). */
int cli_cache_main(int argc, char **argv, const char *project_path);

#endif
