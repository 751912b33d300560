/* cli_cache.c — see cli_cache.h. */
#include "cli_cache.h"

#include "cache.h"
#include "cli.h"
#include "config.h"
#include "project.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const usage_cache =
    "Usage: embecode cache status [--json]\n"
    "       embecode cache clean\n"
    "       embecode cache purge [PATH|.]\n"
    "\n"
    "Each project's index lives in its own folder of $XDG_CACHE_HOME/embecode/ (default\n"
    "~/.cache/embecode/); downloaded models live in its models/ folder.\n"
    "\n"
    "  status  list the indexes: project, size, last access, missing projects, indexes in use\n"
    "  clean   delete the indexes of projects that no longer exist, then the least recently\n"
    "          used ones until the total is under cache.max_size (embecode also does this\n"
    "          when it starts serving or indexing a project)\n"
    "  purge   delete every index and the downloaded models, or one project's index\n"
    "\n"
    "An index in use by a running embecode process is never deleted.\n"
    "Run 'embecode cache COMMAND --help' for details.\n";

static const char *const usage_status =
    "Usage: embecode cache status [--json]\n"
    "\n"
    "Lists every project index in $XDG_CACHE_HOME/embecode/, most recently used first: its\n"
    "folder, size, last access (UTC), state and project path. States: \"in use\" (a running\n"
    "embecode process works on it; never deleted), \"missing\" (the project directory no longer\n"
    "exists; the next clean deletes the index), \"unknown\" (the folder does not say which\n"
    "project it belongs to; deleted by the next clean). Also shows the total, the limit\n"
    "(cache.max_size) and the size of the downloaded models.\n"
    "\n"
    "  --json  print one JSON object: cache_dir, max_size_bytes, total_bytes, models_dir,\n"
    "          models_bytes, projects [{hash, path, size_bytes, last_access, exists, in_use}]\n";

static const char *const usage_clean =
    "Usage: embecode [--path DIR] cache clean\n"
    "\n"
    "Deletes the indexes of projects that no longer exist, then the least recently used\n"
    "indexes until the total is under cache.max_size (default 2GB, from the configuration of\n"
    "the current project or --path DIR). Indexes in use and downloaded models are kept.\n"
    "Prints what it deleted and the total before and after. embecode does the same when it\n"
    "starts serving or indexing a project.\n";

static const char *const usage_purge =
    "Usage: embecode cache purge [PATH|.]\n"
    "       embecode --path DIR cache purge\n"
    "\n"
    "Without PATH: deletes every project index and the downloaded models\n"
    "($XDG_CACHE_HOME/embecode/models/). With PATH (. = the current directory) or --path:\n"
    "deletes only that project's index; PATH may also be a project directory that no longer\n"
    "exists, as `embecode cache status` shows it.\n"
    "\n"
    "Indexes in use by a running embecode process are kept: purge says which, and exits with\n"
    "status 1; stop those processes and run it again.\n";

typedef struct {
    const char *sub;
    const char *target; /* purge PATH */
    const char *path;   /* --path */
    bool json, help;
} cache_args_t;

static int usage_error(const char *sub, const char *fmt, const char *arg)
{
    fprintf(stderr, "embecode: cache%s%s: ", sub ? " " : "", sub ? sub : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'embecode cache%s%s --help' for usage.\n", sub ? " " : "",
            sub ? sub : "");
    return CLI_USAGE;
}

/* Returns -1 when parsing succeeded, else an exit code. */
static int parse(int argc, char **argv, cache_args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            a->help = true;
        } else if (!strcmp(s, "--json")) {
            a->json = true;
        } else if (!strcmp(s, "--path")) {
            if (i + 1 >= argc) return usage_error(a->sub, "option %s needs a value", s);
            a->path = argv[++i];
        } else if (s[0] == '-' && s[1]) {
            return usage_error(a->sub, "unknown option '%s'", s);
        } else if (!a->sub) {
            if (strcmp(s, "status") && strcmp(s, "clean") && strcmp(s, "purge"))
                return usage_error(NULL, "unknown command '%s' (use status, clean or purge)", s);
            a->sub = s;
        } else if (!strcmp(a->sub, "purge") && !a->target) {
            a->target = s;
        } else {
            return usage_error(a->sub, "unexpected argument '%s'", s);
        }
    }
    if (a->help) return -1;
    if (!a->sub) return usage_error(NULL, "%s", "needs a command: status, clean or purge");
    if (a->json && strcmp(a->sub, "status"))
        return usage_error(a->sub, "%s", "--json belongs to 'cache status'");
    return -1;
}

/* cache.max_size from the configuration of project_path (NULL = current directory; when
 * that is no project, the user's configuration alone). */
static int load_cap(const char *project_path, uint64_t *cap, err_t *err)
{
    project_t p;
    config_t c = {0};
    bool have = project_resolve(&p, project_path, err) == 0;
    if (!have && project_path) return -1;
    int rc = config_load(&c, have ? p.root : NULL, err);
    *cap = c.cache_max_bytes;
    config_free(&c);
    if (have) project_free(&p);
    return rc;
}

/* Prints s with control characters as '?' (a path may hold anything but NUL). */
static void put_safe(const char *s)
{
    for (; *s; s++)
        putchar(iscntrl((unsigned char)*s) ? '?' : *s);
}

static const char *state_of(const cache_entry_t *e)
{
    if (e->in_use) return !e->path ? "in use, unknown" : !e->exists ? "in use, missing" : "in use";
    return !e->path ? "unknown" : !e->exists ? "missing" : "-";
}

static void status_json(const char *root, uint64_t cap, const cache_entry_t *e, size_t n,
                        uint64_t total, uint64_t models)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "cache_dir", root);
    cJSON_AddNumberToObject(j, "max_size_bytes", (double)cap);
    cJSON_AddNumberToObject(j, "total_bytes", (double)total);
    char *mdir = path_join(root, "models");
    cJSON_AddStringToObject(j, "models_dir", mdir);
    free(mdir);
    cJSON_AddNumberToObject(j, "models_bytes", (double)models);
    cJSON *arr = cJSON_AddArrayToObject(j, "projects");
    for (size_t k = n; k-- > 0;) {
        cJSON *o = cJSON_CreateObject();
        char iso[32];
        time_iso8601(e[k].last_access, iso, sizeof iso);
        cJSON_AddStringToObject(o, "hash", e[k].hash);
        if (e[k].path)
            cJSON_AddStringToObject(o, "path", e[k].path);
        else
            cJSON_AddNullToObject(o, "path");
        cJSON_AddNumberToObject(o, "size_bytes", (double)e[k].bytes);
        cJSON_AddStringToObject(o, "last_access", iso);
        cJSON_AddBoolToObject(o, "exists", e[k].exists);
        cJSON_AddBoolToObject(o, "in_use", e[k].in_use);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_PrintUnformatted(j);
    puts(s);
    free(s);
    cJSON_Delete(j);
}

static int do_status(const cache_args_t *a)
{
    err_t err;
    uint64_t cap;
    if (load_cap(a->path, &cap, &err) != 0) {
        fprintf(stderr, "embecode: warning: %s; showing the default cache.max_size\n", err.msg);
        config_t c = {0};
        config_defaults(&c);
        cap = c.cache_max_bytes;
        config_free(&c);
    }
    char *root = cache_root();
    cache_entry_t *e;
    size_t n;
    if (cache_list(root, &e, &n, &err) != 0) {
        fprintf(stderr, "embecode: cache status: %s\n", err.msg);
        free(root);
        return CLI_FAIL;
    }
    uint64_t total = 0, models = cache_models_bytes(root);
    for (size_t k = 0; k < n; k++)
        total += e[k].bytes;
    if (a->json) {
        status_json(root, cap, e, n, total, models);
    } else {
        char size[32], iso[32];
        if (n)
            printf("%-10s%-10s%-22s%-17s%s\n", "FOLDER", "SIZE", "LAST ACCESS", "STATE", "PROJECT");
        for (size_t k = n; k-- > 0;) { /* most recent first */
            cache_format_size(e[k].bytes, size, sizeof size);
            time_iso8601(e[k].last_access, iso, sizeof iso);
            printf("%-10s%-10s%-22s%-17s", e[k].hash, size, iso, state_of(&e[k]));
            if (e[k].path)
                put_safe(e[k].path);
            else
                fputs("(unknown project)", stdout);
            putchar('\n');
        }
        char t[32], c[32], m[32];
        cache_format_size(total, t, sizeof t);
        cache_format_size(cap, c, sizeof c);
        cache_format_size(models, m, sizeof m);
        if (n) putchar('\n');
        printf("%zu project index%s, %s (cache.max_size %s); models %s\n", n, n == 1 ? "" : "es", t,
               c, m);
        printf("cache folder: %s\n", root);
    }
    cache_entries_free(e, n);
    free(root);
    return CLI_OK;
}

static void print_entry_path(const cache_entry_t *e)
{
    if (e->path)
        put_safe(e->path);
    else
        printf("the folder %s (unknown project)", e->hash);
}

static void print_removed(const cache_report_t *r, bool why)
{
    char size[32];
    for (size_t k = 0; k < r->n_removed; k++) {
        const cache_entry_t *e = &r->removed[k];
        cache_format_size(e->bytes, size, sizeof size);
        fputs("removed ", stdout);
        print_entry_path(e);
        printf(" (%s)%s\n", size,
               !why         ? ""
               : !e->path   ? ""
               : !e->exists ? ": the project no longer exists"
                            : ": least recently used");
    }
}

static int do_clean(const cache_args_t *a)
{
    err_t err;
    uint64_t cap;
    if (load_cap(a->path, &cap, &err) != 0) {
        fprintf(stderr, "embecode: cache clean: %s\n", err.msg);
        return CLI_FAIL;
    }
    char *root = cache_root();
    cache_report_t rep;
    int rc = cache_clean(root, cap, NULL, &rep, &err);
    print_removed(&rep, true);
    for (size_t k = 0; k < rep.n_in_use; k++) {
        fputs("kept ", stdout);
        print_entry_path(&rep.in_use[k]);
        puts(": in use by a running embecode process");
    }
    char b[32], f[32], c[32];
    cache_format_size(rep.bytes_before, b, sizeof b);
    cache_format_size(rep.bytes_after, f, sizeof f);
    cache_format_size(cap, c, sizeof c);
    if (!rep.n_removed) printf("nothing to remove: ");
    printf("total %s before, %s after (cache.max_size %s)\n", b, f, c);
    if (rep.bytes_after > cap)
        printf("still over cache.max_size: the remaining indexes are in use or could not be "
               "deleted\n");
    if (rc != 0) fprintf(stderr, "embecode: cache clean: %s\n", err.msg);
    cache_report_free(&rep);
    free(root);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

/* Reports a purge; returns the exit code. */
static int purge_result(const cache_report_t *rep, int rc, const err_t *err)
{
    print_removed(rep, false);
    if (rep->models_bytes) {
        char m[32];
        cache_format_size(rep->models_bytes, m, sizeof m);
        printf("removed the downloaded models (%s)\n", m);
    }
    for (size_t k = 0; k < rep->n_in_use; k++) {
        fputs("embecode: cache purge: the index of ", stderr);
        const cache_entry_t *e = &rep->in_use[k];
        fprintf(stderr, "%s is in use by a running embecode process; stop it and run again\n",
                e->path ? e->path : e->hash);
    }
    if (rc != 0) fprintf(stderr, "embecode: cache purge: %s\n", err->msg);
    return rc == 0 && rep->n_in_use == 0 ? CLI_OK : CLI_FAIL;
}

/* The absolute form of path (made absolute against the current directory, without
 * resolving links, trailing slashes removed). malloc'd. */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX];
    char *abs = path[0] == '/' || !getcwd(cwd, sizeof cwd) ? xstrdup(path) : path_join(cwd, path);
    size_t len = strlen(abs);
    while (len > 1 && abs[len - 1] == '/')
        abs[--len] = 0;
    return abs;
}

/* The folder of target: its resolved project, or else a cached project recorded under
 * that path (a project directory deleted since). 1 when found, 0 when it has no index, -1
 * with err when target is no directory and no cached project has that path. */
static int purge_target(const char *root, const char *target, char hash[9], char **shown,
                        err_t *err)
{
    project_t p;
    if (project_resolve(&p, target, err) == 0) {
        memcpy(hash, p.hash8, 9);
        *shown = xstrdup(p.root);
        struct stat st;
        int found = lstat(p.cache_dir, &st) == 0;
        project_free(&p);
        return found;
    }
    cache_entry_t *e;
    size_t n;
    err_t lerr;
    if (cache_list(root, &e, &n, &lerr) != 0) {
        *err = lerr;
        return -1;
    }
    char *abs = absolute(target);
    int found = 0;
    for (size_t k = 0; k < n && !found; k++) {
        if (e[k].path && !strcmp(e[k].path, abs)) {
            memcpy(hash, e[k].hash, 9);
            *shown = xstrdup(abs);
            found = 1;
        }
    }
    free(abs);
    cache_entries_free(e, n);
    if (!found)
        return err_set(err,
                       "%s is not an existing directory, and no cached index has that "
                       "path (`embecode cache status` lists them)",
                       target);
    return 1;
}

static int do_purge(const cache_args_t *a)
{
    char *root = cache_root();
    const char *target = a->target ? a->target : a->path;
    cache_report_t rep;
    err_t err;
    int rc;
    if (!target) {
        rc = purge_result(&rep, cache_purge(root, NULL, &rep, &err), &err);
        if (rc == CLI_OK && !rep.n_removed && !rep.models_bytes) printf("the cache is empty\n");
    } else {
        char hash[9], *shown = NULL;
        int found = purge_target(root, target, hash, &shown, &err);
        if (found < 0) {
            fprintf(stderr, "embecode: cache purge: %s\n", err.msg);
            free(root);
            return CLI_FAIL;
        }
        memset(&rep, 0, sizeof rep);
        rc = found ? purge_result(&rep, cache_purge(root, hash, &rep, &err), &err) : CLI_OK;
        if (rc == CLI_OK && !rep.n_removed) printf("no index for %s: nothing to remove\n", shown);
        free(shown);
    }
    cache_report_free(&rep);
    free(root);
    return rc;
}

int cli_cache_main(int argc, char **argv, const char *project_path)
{
    cache_args_t a = {0};
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.help) {
        const char *s = a.sub ? a.sub : "";
        fputs(!strcmp(s, "status")  ? usage_status
              : !strcmp(s, "clean") ? usage_clean
              : !strcmp(s, "purge") ? usage_purge
                                    : usage_cache,
              stdout);
        return CLI_OK;
    }
    if (!a.path) a.path = project_path;
    if (!strcmp(a.sub, "status")) return do_status(&a);
    if (!strcmp(a.sub, "clean")) return do_clean(&a);
    return do_purge(&a);
}
