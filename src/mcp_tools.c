/* mcp_tools.c — see mcp_tools.h. The tool definitions are written as JSON text (what clients
 * see, verbatim) and parsed once per call of mcp_tools_list(). */
#include "mcp_tools.h"

#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One search result: where to read, not what is there. Kept in sync with DESIGN §2. */
#define RESULT_ITEM_SCHEMA                                                                         \
    "{\"type\": \"object\", \"additionalProperties\": false,"                                      \
    " \"description\": \"A place in the code to read.\","                                          \
    " \"required\": [\"file_path\", \"language\", \"start_line\", \"end_line\","                   \
    "  \"definitions\", \"preview\", \"score\"],"                                                  \
    " \"properties\": {"                                                                           \
    "  \"file_path\": {\"type\": \"string\", \"description\": \"Path relative to the project "     \
    "root, '/'-separated.\"},"                                                                     \
    "  \"language\": {\"type\": \"string\", \"description\": \"Language of the file, e.g. "        \
    "'python', 'go', 'text'.\"},"                                                                  \
    "  \"start_line\": {\"type\": \"integer\", \"minimum\": 1, \"description\": \"First line "     \
    "of the matching chunk (1-based).\"},"                                                         \
    "  \"end_line\": {\"type\": \"integer\", \"minimum\": 1, \"description\": \"Last line of "     \
    "the matching chunk (1-based, inclusive).\"},"                                                 \
    "  \"definitions\": {\"type\": \"string\", \"description\": \"Definitions in the chunk, "      \
    "comma-separated, e.g. 'function search, class Searcher'; may be empty.\"},"                   \
    "  \"preview\": {\"type\": \"string\", \"description\": \"Up to two lines of the chunk "       \
    "(at most 200 characters, '...' appended when cut), chosen to show the lines that match "      \
    "the query.\"},"                                                                               \
    "  \"score\": {\"type\": \"number\", \"description\": \"Relevance; higher is better. Only "    \
    "comparable within one response.\"},"                                                          \
    "  \"match_lines\": {\"type\": \"array\", \"maxItems\": 8, \"items\": {\"type\": "             \
    "\"integer\", \"minimum\": 1}, \"description\": \"Line numbers in the chunk that contain "     \
    "query words, ascending (at most 8). Absent when none.\"},"                                    \
    "  \"file_result_count\": {\"type\": \"integer\", \"minimum\": 2, \"description\": "           \
    "\"Number of results in this response from the same file; present only when more than "        \
    "one.\"}"                                                                                      \
    " }}"

/* The single item returned while the index cannot answer yet. */
#define RETRY_ITEM_SCHEMA                                                                          \
    "{\"type\": \"object\", \"additionalProperties\": false,"                                      \
    " \"description\": \"Returned alone while the index is still being built: wait a few "         \
    "seconds and call again.\","                                                                   \
    " \"required\": [\"error\", \"retry_recommended\"],"                                           \
    " \"properties\": {"                                                                           \
    "  \"error\": {\"type\": \"string\", \"description\": \"What is happening, with progress, "    \
    "e.g. 'Index is being built: 247/1840 files'.\"},"                                             \
    "  \"retry_recommended\": {\"type\": \"boolean\", \"const\": true}"                            \
    " }}"

static const char tools_json[] =
    "["
    "{\"name\": \"" MCP_TOOL_SEARCH_CODE "\","
    " \"title\": \"Search code\","
    " \"description\": \"Search this repository's code and get a short ranked list of places "
    "to read: file, line range, the definitions there and a two-line preview of the best "
    "matching lines. Results are locations, not full content: open the file at "
    "start_line..end_line to read the code. Use it before grepping or opening files when you "
    "need to find where something is implemented, defined, configured or used. Modes: 'hybrid' "
    "(default) fuses keyword and semantic ranking and suits most queries; 'keyword' for exact "
    "identifiers, error messages and literal strings (identifiers also match by their parts: "
    "getUserName finds 'user name'); 'semantic' for behaviour described in plain words when "
    "you do not know the names ('where do failed http requests get retried'). Narrow with "
    "'path' (a prefix such as 'src/' or 'apps/ui'). While embeddings are still being computed, "
    "'semantic' and 'hybrid' return keyword results and a 'note' says so. If the index is "
    "still being built, the result is a single item with retry_recommended: true; wait a few "
    "seconds and call again.\","
    " \"inputSchema\": {\"type\": \"object\", \"additionalProperties\": false,"
    "  \"required\": [\"query\"],"
    "  \"properties\": {"
    "   \"query\": {\"type\": \"string\", \"minLength\": 1, \"description\": \"What to look "
    "for: a description of behaviour in plain words, or identifiers and literal text from the "
    "code.\"},"
    "   \"mode\": {\"type\": \"string\", \"enum\": [\"hybrid\", \"semantic\", \"keyword\"], "
    "\"default\": \"hybrid\", \"description\": \"Ranking: 'hybrid' (keyword + semantic, the "
    "default), 'keyword' (exact words and identifiers), 'semantic' (meaning only).\"},"
    "   \"top_k\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 10, "
    "\"description\": \"Maximum number of results to return (1-100).\"},"
    "   \"path\": {\"type\": \"string\", \"description\": \"Only return results whose "
    "project-relative path starts with this prefix, e.g. 'src/' or 'apps/ui/components'. A "
    "plain prefix, not a glob.\"}"
    "  }},"
    " \"outputSchema\": {\"type\": \"object\", \"additionalProperties\": false,"
    "  \"required\": [\"results\"],"
    "  \"properties\": {"
    "   \"results\": {\"type\": \"array\", \"description\": \"Best match first. Either search "
    "results, or a single retry item while the index is being built.\", \"items\": {\"anyOf\": "
    "[" RESULT_ITEM_SCHEMA ", " RETRY_ITEM_SCHEMA "]}},"
    "   \"note\": {\"type\": \"string\", \"description\": \"Present when the answer is degraded, "
    "e.g. semantic ranking not ready yet so keyword results were returned.\"}"
    "  }},"
    " \"annotations\": {\"title\": \"Search code\", \"readOnlyHint\": true, "
    "\"destructiveHint\": false, \"idempotentHint\": true, \"openWorldHint\": false}"
    "},"
    "{\"name\": \"" MCP_TOOL_INDEX_STATUS "\","
    " \"title\": \"Index status\","
    " \"description\": \"Report the state of this repository's search index: files and chunks "
    "indexed, whether indexing is running and how far it got, whether semantic (embedding) "
    "search is ready, and a message when something needs the user (for example the embedding "
    "model is missing). Call it when search_code asks you to retry, returns a note, or seems "
    "to miss files that exist.\","
    " \"inputSchema\": {\"type\": \"object\", \"additionalProperties\": false, "
    "\"properties\": {}},"
    " \"outputSchema\": {\"type\": \"object\", \"additionalProperties\": false,"
    "  \"required\": [\"files_indexed\", \"total_chunks\", \"embedding_model\", "
    "\"last_updated\", \"is_indexing\", \"indexing_type\", \"current_file\", \"progress\", "
    "\"files_to_process\", \"role\", \"embedded_chunks\", \"semantic_ready\", \"message\", "
    "\"skipped_binary\", \"skipped_too_large\", \"is_embedding\", \"embedding_progress\"],"
    "  \"properties\": {"
    "   \"files_indexed\": {\"type\": \"integer\", \"minimum\": 0, \"description\": \"Files in "
    "the index.\"},"
    "   \"total_chunks\": {\"type\": \"integer\", \"minimum\": 0, \"description\": \"Chunks "
    "(searchable pieces of files) in the index.\"},"
    "   \"embedding_model\": {\"type\": [\"string\", \"null\"], \"description\": \"Embedding "
    "model used for semantic search; null when none is configured or available.\"},"
    "   \"last_updated\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\", "
    "\"description\": \"When the index last changed (ISO-8601 UTC); null before the first "
    "index.\"},"
    "   \"is_indexing\": {\"type\": \"boolean\", \"description\": \"Whether files are being "
    "indexed right now.\"},"
    "   \"indexing_type\": {\"type\": [\"string\", \"null\"], \"enum\": [\"full\", "
    "\"catchup\", \"incremental\", null], \"description\": \"What the running indexing does: "
    "'full' (first index), 'catchup' (changes made while no embecode ran), 'incremental' "
    "(files just changed); null when idle.\"},"
    "   \"current_file\": {\"type\": [\"string\", \"null\"], \"description\": \"File being "
    "indexed now, project-relative; null when idle.\"},"
    "   \"progress\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1, \"description\": "
    "\"Progress of the running indexing, 0 to 1 (1 when idle).\"},"
    "   \"files_to_process\": {\"type\": \"integer\", \"minimum\": 0, \"description\": \"Files "
    "the running indexing still has to process.\"},"
    "   \"role\": {\"type\": \"string\", \"enum\": [\"owner\", \"reader\"], \"description\": "
    "\"'owner' if this process indexes and watches the project, 'reader' if another embecode "
    "process does and this one only answers queries.\"},"
    "   \"embedded_chunks\": {\"type\": \"integer\", \"minimum\": 0, \"description\": \"Chunks "
    "that already have an embedding (semantic search covers only these).\"},"
    "   \"semantic_ready\": {\"type\": \"boolean\", \"description\": \"Whether semantic and "
    "hybrid search use embeddings (false: they fall back to keyword ranking).\"},"
    "   \"is_embedding\": {\"type\": \"boolean\", \"description\": \"Whether chunks "
    "are being embedded right now (the second indexing phase; search works meanwhile).\"},"
    "   \"embedding_progress\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1, "
    "\"description\": \"Share of chunks that have an embedding, 0 to 1.\"},"
    "   \"message\": {\"type\": [\"string\", \"null\"], \"description\": \"Something the user "
    "should know or do (model missing, watcher degraded, ...); null when all is well.\"},"
    "   \"skipped_binary\": {\"type\": \"integer\", \"minimum\": 0, \"description\": \"Files "
    "skipped because they are binary.\"},"
    "   \"skipped_too_large\": {\"type\": \"integer\", \"minimum\": 0, \"description\": \"Files "
    "skipped because they exceed the size cap.\"}"
    "  }},"
    " \"annotations\": {\"title\": \"Index status\", \"readOnlyHint\": true, "
    "\"destructiveHint\": false, \"idempotentHint\": true, \"openWorldHint\": false}"
    "}"
    "]";

static const char instructions[] =
    "embecode indexes this repository for fast code search. Use search_code to find where "
    "something is implemented, defined or used before grepping or opening files: it returns a "
    "short list of file locations with line ranges and previews; read those lines next. Prefer "
    "mode 'keyword' for exact identifiers or strings and 'semantic' for behaviour described in "
    "words; the default 'hybrid' combines both. Use index_status to see whether indexing is "
    "still running or semantic search is ready.";

const char *mcp_tools_instructions(void)
{
    return instructions;
}

cJSON *mcp_tools_list(int default_top_k)
{
    cJSON *tools = cJSON_Parse(tools_json);
    if (!tools) {
        /* A bug in the text above; the unit tests parse it on every run. */
        fprintf(stderr, "embecode: fatal: built-in tool definitions are not valid JSON\n");
        abort();
    }
    int k = EC_MIN(EC_MAX(default_top_k, MCP_TOP_K_MIN), MCP_TOP_K_MAX);
    cJSON *search = (cJSON *)mcp_tools_find(tools, MCP_TOOL_SEARCH_CODE);
    cJSON *props = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(search, "inputSchema"), "properties");
    cJSON *top_k = cJSON_GetObjectItemCaseSensitive(props, "top_k");
    cJSON_ReplaceItemInObjectCaseSensitive(top_k, "default", cJSON_CreateNumber(k));
    char *text = xasprintf("Maximum number of results to return (%d-%d, default %d).",
                           MCP_TOP_K_MIN, MCP_TOP_K_MAX, k);
    cJSON_ReplaceItemInObjectCaseSensitive(top_k, "description", cJSON_CreateString(text));
    free(text);
    return tools;
}

const cJSON *mcp_tools_find(const cJSON *tools, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return t;
    }
    return NULL;
}

void mcp_tools_names(const cJSON *tools, char *buf, size_t size)
{
    sbuf_t b = {0};
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsString(n)) continue;
        if (b.len) sbuf_puts(&b, ", ");
        sbuf_puts(&b, n->valuestring);
    }
    snprintf(buf, size, "%s", b.data ? b.data : "");
    sbuf_free(&b);
}

cJSON *mcp_tools_retry_result(const char *message)
{
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "error", message ? message : "Index is being built");
    cJSON_AddBoolToObject(item, "retry_recommended", 1);
    cJSON *results = cJSON_CreateArray();
    cJSON_AddItemToArray(results, item);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "results", results);
    return out;
}

/* ---- argument checks ------------------------------------------------------------------ */

/* Number of UTF-8 code points in s (JSON Schema lengths count characters, not bytes). */
static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static bool type_matches(const cJSON *v, const char *type)
{
    if (!strcmp(type, "string")) return cJSON_IsString(v);
    if (!strcmp(type, "number")) return cJSON_IsNumber(v);
    if (!strcmp(type, "integer"))
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
               floor(v->valuedouble) == v->valuedouble;
    if (!strcmp(type, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(type, "null")) return cJSON_IsNull(v);
    if (!strcmp(type, "object")) return cJSON_IsObject(v);
    if (!strcmp(type, "array")) return cJSON_IsArray(v);
    return false;
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v))
        return floor(v->valuedouble) == v->valuedouble ? "an integer" : "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    return "an unknown value";
}

static const char *type_phrase(const char *type)
{
    if (!strcmp(type, "integer")) return "an integer";
    if (!strcmp(type, "object")) return "an object";
    if (!strcmp(type, "array")) return "an array";
    if (!strcmp(type, "null")) return "null";
    if (!strcmp(type, "string")) return "a string";
    if (!strcmp(type, "number")) return "a number";
    if (!strcmp(type, "boolean")) return "a boolean";
    return type;
}

/* Compact JSON of v for messages, cut to about 60 characters. Returns a malloc'd string. */
static char *value_text(const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return xstrdup("?");
    if (strlen(s) > 60) {
        size_t cut = 57;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        strcpy(s + cut, "...");
    }
    char *out = xstrdup(s);
    cJSON_free(s);
    return out;
}

/* Checks one value against its property schema (type, enum, bounds). 0 or -1 with msg. */
static int check_value(const char *name, const cJSON *v, const cJSON *schema, sbuf_t *msg)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    bool ok = true;
    if (cJSON_IsString(type)) {
        ok = type_matches(v, type->valuestring);
    } else if (cJSON_IsArray(type)) {
        const cJSON *t;
        ok = false;
        cJSON_ArrayForEach(t, type) ok =
            ok || (cJSON_IsString(t) && type_matches(v, t->valuestring));
    }
    if (!ok) {
        char *got = value_text(v);
        sbuf_printf(msg, "'%s' must be ", name);
        if (cJSON_IsString(type)) {
            sbuf_puts(msg, type_phrase(type->valuestring));
        } else {
            const cJSON *t;
            int i = 0;
            cJSON_ArrayForEach(t, type)
                sbuf_printf(msg, "%s%s", i++ ? " or " : "", type_phrase(t->valuestring));
        }
        sbuf_printf(msg, ", got %s (%s)", got, json_kind(v));
        free(got);
        return -1;
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    if (cJSON_IsArray(en)) {
        const cJSON *e;
        bool found = false;
        cJSON_ArrayForEach(e, en) found = found || cJSON_Compare(e, v, 1);
        if (!found) {
            char *got = value_text(v);
            sbuf_printf(msg, "'%s' must be one of ", name);
            int i = 0;
            cJSON_ArrayForEach(e, en)
            {
                char *t = value_text(e);
                sbuf_printf(msg, "%s%s", i++ ? ", " : "", t);
                free(t);
            }
            sbuf_printf(msg, "; got %s", got);
            free(got);
            return -1;
        }
    }
    if (cJSON_IsNumber(v)) {
        const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
        const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
        bool lo = cJSON_IsNumber(min) && v->valuedouble < min->valuedouble;
        bool hi = cJSON_IsNumber(max) && v->valuedouble > max->valuedouble;
        if (lo || hi) {
            char *got = value_text(v);
            if (cJSON_IsNumber(min) && cJSON_IsNumber(max))
                sbuf_printf(msg, "'%s' must be between %g and %g, got %s", name, min->valuedouble,
                            max->valuedouble, got);
            else if (lo)
                sbuf_printf(msg, "'%s' must be at least %g, got %s", name, min->valuedouble, got);
            else
                sbuf_printf(msg, "'%s' must be at most %g, got %s", name, max->valuedouble, got);
            free(got);
            return -1;
        }
    }
    if (cJSON_IsString(v)) {
        const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minLength");
        const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maxLength");
        size_t len = utf8_length(v->valuestring);
        if (cJSON_IsNumber(min) && (double)len < min->valuedouble) {
            if (min->valuedouble == 1)
                sbuf_printf(msg, "'%s' must not be empty", name);
            else
                sbuf_printf(msg, "'%s' must be at least %g characters long, got %zu", name,
                            min->valuedouble, len);
            return -1;
        }
        if (cJSON_IsNumber(max) && (double)len > max->valuedouble) {
            sbuf_printf(msg, "'%s' must be at most %g characters long, got %zu", name,
                        max->valuedouble, len);
            return -1;
        }
    }
    return 0;
}

static void list_properties(const cJSON *props, sbuf_t *msg)
{
    const cJSON *p;
    int i = 0;
    cJSON_ArrayForEach(p, props) sbuf_printf(msg, "%s%s", i++ ? ", " : "", p->string);
}

static int check_args(const char *tool, const cJSON *schema, const cJSON *args, sbuf_t *msg)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
    if (args && !cJSON_IsObject(args)) {
        char *got = value_text(args);
        sbuf_printf(msg, "arguments must be a JSON object, got %s (%s)", got, json_kind(args));
        free(got);
        return -1;
    }
    const cJSON *a;
    cJSON_ArrayForEach(a, args)
    {
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, a->string);
        if (!ps) {
            if (cJSON_IsFalse(extra)) {
                sbuf_printf(msg, "unknown argument '%s'; ", a->string);
                if (cJSON_GetArraySize(props) == 0) {
                    sbuf_printf(msg, "%s takes no arguments", tool);
                } else {
                    sbuf_puts(msg, "allowed arguments: ");
                    list_properties(props, msg);
                }
                return -1;
            }
            continue;
        }
        if (check_value(a->string, a, ps, msg) < 0) return -1;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, required)
    {
        if (!cJSON_IsString(r) || cJSON_GetObjectItemCaseSensitive(args, r->valuestring)) continue;
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, r->valuestring);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(ps, "type");
        sbuf_printf(msg, "missing required argument '%s'", r->valuestring);
        if (cJSON_IsString(type)) sbuf_printf(msg, " (%s)", type_phrase(type->valuestring));
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(ps, "description");
        if (cJSON_IsString(desc)) sbuf_printf(msg, ": %s", desc->valuestring);
        return -1;
    }
    return 0;
}

int mcp_tools_check_args(const cJSON *tool, const cJSON *args, cJSON **out, char *msg, size_t size)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(tool, "name");
    const char *tname = cJSON_IsString(name) ? name->valuestring : "?";
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "inputSchema");
    *out = NULL;
    sbuf_t b = {0};
    if (check_args(tname, schema, args, &b) < 0) {
        bool dot = b.len && b.data[b.len - 1] == '.';
        snprintf(msg, size, "Invalid arguments for tool %s: %s%s", tname, b.data, dot ? "" : ".");
        sbuf_free(&b);
        return -1;
    }
    sbuf_free(&b);
    cJSON *copy = args ? cJSON_Duplicate(args, 1) : cJSON_CreateObject();
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(schema, "properties"))
    {
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(p, "default");
        if (def && !cJSON_GetObjectItemCaseSensitive(copy, p->string))
            cJSON_AddItemToObject(copy, p->string, cJSON_Duplicate(def, 1));
    }
    *out = copy;
    return 0;
}
