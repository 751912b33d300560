/* mcp_tools.h — the MCP tools embecode offers (search_code, index_status): their names,
 * descriptions written for AI agents, input and output JSON Schemas, and the argument checks
 * the server applies before a tool handler runs. The schemas are the contract between the
 * protocol engine (mcp.c), the tool handlers and every client; tests validate results
 * against them.
 *
 * Everything here is thread-safe: no shared state, every function builds fresh objects. */
#ifndef EMBECODE_MCP_TOOLS_H
#define EMBECODE_MCP_TOOLS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define MCP_TOOL_SEARCH_CODE "search_code"
#define MCP_TOOL_INDEX_STATUS "index_status"

/* Limits of search_code's top_k argument. */
#define MCP_TOP_K_MIN 1
#define MCP_TOP_K_MAX 100

/* Builds the array served by tools/list: one object per tool with name, title, description,
 * inputSchema, outputSchema and annotations. default_top_k (search.top_k from config) becomes
 * the documented default of top_k; values outside 1..100 are clamped. Returns a new cJSON
 * array owned by the caller (cJSON_Delete). Never fails (aborts on out-of-memory like
 * xmalloc; the schema text is a compile-time constant checked by the unit tests). */
cJSON *mcp_tools_list(int default_top_k);

/* Finds the tool called `name` in a list built by mcp_tools_list(). Returns a borrowed
 * pointer into `tools`, or NULL when there is no such tool. */
const cJSON *mcp_tools_find(const cJSON *tools, const char *name);

/* Writes the names of all tools, comma-separated ("search_code, index_status"), into buf. */
void mcp_tools_names(const cJSON *tools, char *buf, size_t size);

/* Checks a tools/call "arguments" object against the tool's inputSchema: only declared
 * properties, every required one present, each value of the declared type (integer means a
 * number without fraction), within minimum/maximum, minLength/maxLength, and in its enum.
 * args may be NULL (no arguments). On success returns 0 and sets *out to a new object
 * (owned by the caller) holding the arguments plus the schema's default for every missing
 * property that declares one, so handlers never re-implement defaults. On failure returns -1
 * and writes into msg (size bytes) one sentence for the caller (an AI agent): which
 * argument, what was wrong, what is allowed. */
int mcp_tools_check_args(const cJSON *tool, const cJSON *args, cJSON **out, char *msg, size_t size);

/* Builds the structured result search_code returns while the index cannot answer yet:
 * {"results": [{"error": message, "retry_recommended": true}]}. message should carry the
 * progress, e.g. "Index is being built: 247/1840 files; retry in a few seconds". Returns a
 * new object owned by the caller. */
cJSON *mcp_tools_retry_result(const char *message);

/* Text for the "instructions" field of the initialize result: when and how an agent should
 * use embecode's tools. Static storage. */
const char *mcp_tools_instructions(void);

#endif
