/* serve.h — `embecode serve`: the MCP server over stdio, wired to an app_t. */
#ifndef EMBECODE_SERVE_H
#define EMBECODE_SERVE_H

#include "app.h"

/* Opens the project, starts background indexing (or waits to take over as a reader), and
 * serves MCP on stdin/stdout until EOF. Returns a CLI exit code. */
int serve_run(const app_overrides_t *ov);

#endif
