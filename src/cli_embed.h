/* cli_embed.h — the embedding-engine commands of the CLI:
 *   embecode embed [--model NAME|PATH|URL] [--query] [--tokens] [TEXT...]
 *   embecode model list [--json] | model pull [NAME|URL]
 * Separate from cli.c because they know nothing about indexes. */
#ifndef EMBECODE_CLI_EMBED_H
#define EMBECODE_CLI_EMBED_H

/* argv[0] is the command name ("embed" or "model"); project_path is the global --path (NULL
 * = current directory; used to read the project's configuration). Returns an exit code. */
int cli_embed_main(int argc, char **argv, const char *project_path);
int cli_model_main(int argc, char **argv, const char *project_path);

#endif
