#include "t.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cache.h"
#include "hash.h"
#include "project.h"

/* Each test gets its own cache root ($XDG_CACHE_HOME/embecode) and project folders. */
static char *g_base; /* t_tmpdir()/<test>  */
static char *g_root; /* g_base/cache/embecode */

static void fresh_env(const char *name)
{
    free(g_base);
    free(g_root);
    g_base = path_join(t_tmpdir(), name);
    char *xdg = path_join(g_base, "cache");
    err_t err;
    mkdir_p(xdg, &err);
    setenv("XDG_CACHE_HOME", xdg, 1);
    g_root = cache_root();
    mkdir_p(g_root, &err);
    free(xdg);
}

/* A project directory g_base/<name>, resolved into p. */
static void make_project(const char *name, project_t *p)
{
    char *dir = path_join(g_base, name);
    err_t err;
    mkdir_p(dir, &err);
    if (project_resolve(p, dir, &err) != 0) fprintf(stderr, "resolve: %s\n", err.msg);
    free(dir);
}

static void write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    for (size_t i = 0; i < n; i++)
        fputc('x', f);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static size_t file_size(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Enters p, adds an index.db of `bytes`, leaves, and dates the last access `age` s ago. */
static void seed(const project_t *p, size_t bytes, int age)
{
    int fd;
    err_t err;
    if (cache_enter(p, &fd, &err) != 0) fprintf(stderr, "enter: %s\n", err.msg);
    write_bytes(p->db_path, bytes);
    cache_leave(fd);
    char *pf = path_join(p->cache_dir, "project");
    struct timespec ts[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
    utimensat(AT_FDCWD, pf, ts, 0);
    free(pf);
}

/* A child process that enters p and stays until *ctl is closed. */
static pid_t hold(const project_t *p, int *ctl)
{
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        int fd;
        err_t err;
        char c = cache_enter(p, &fd, &err) == 0 ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1) _exit(1);
        while (read(down[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    char c = 0;
    if (read(up[0], &c, 1) != 1 || c != 'y') fprintf(stderr, "holder failed to enter\n");
    close(up[0]);
    *ctl = down[1];
    return pid;
}

static void release(pid_t pid, int ctl)
{
    close(ctl);
    int st;
    waitpid(pid, &st, 0);
}

static const cache_entry_t *find(const cache_entry_t *e, size_t n, const char *hash)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].hash, hash)) return &e[i];
    return NULL;
}

static bool report_has(const cache_entry_t *e, size_t n, const char *hash)
{
    return find(e, n, hash) != NULL;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_enter_creates_folder_project_file_and_shared_lock(void)
{
    fresh_env("enter");
    project_t p;
    make_project("proj", &p);
    int fd = -1;
    err_t err;
    T_EQ_INT(cache_enter(&p, &fd, &err), 0);
    T_CHECK(fd >= 0);
    T_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    char *pf = path_join(p.cache_dir, "project"), *data = NULL;
    size_t len;
    T_EQ_INT(file_read_all(pf, 8192, &data, &len, &err), 0);
    char *want = xasprintf("%s\n", p.root);
    T_EQ_STR(data, want);
    char *lock = path_join(p.cache_dir, "inuse.lock");
    int other = open(lock, O_RDONLY);
    T_CHECK(other >= 0);
    T_CHECK(flock(other, LOCK_EX | LOCK_NB) != 0); /* held shared by us */
    T_CHECK(flock(other, LOCK_SH | LOCK_NB) == 0); /* other users may share it */
    flock(other, LOCK_UN);
    cache_leave(fd);
    T_CHECK(flock(other, LOCK_EX | LOCK_NB) == 0);
    close(other);
    free(lock);
    free(want);
    free(data);
    free(pf);
    project_free(&p);
}

static void test_enter_touches_last_access(void)
{
    fresh_env("touch");
    project_t p;
    make_project("proj", &p);
    seed(&p, 10, 3600);
    cache_entry_t *e;
    size_t n;
    err_t err;
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_EQ_INT(n, 1);
    T_CHECK(n == 1 && e[0].last_access <= time(NULL) - 3500);
    cache_entries_free(e, n);
    int fd;
    T_EQ_INT(cache_enter(&p, &fd, &err), 0);
    cache_leave(fd);
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_CHECK(n == 1 && e[0].last_access >= time(NULL) - 5);
    cache_entries_free(e, n);
    project_free(&p);
}

static void test_list_reports_paths_sizes_order_exists_and_in_use(void)
{
    fresh_env("list");
    project_t a, b;
    make_project("a", &a);
    make_project("b", &b);
    seed(&a, 1000, 100);
    seed(&b, 3000, 200);
    char *pf = path_join(a.cache_dir, "project");
    uint64_t want_a = 1000 + file_size(pf);
    free(pf);
    rmdir(b.root); /* b's project is gone */
    int ctl;
    pid_t pid = hold(&a, &ctl);
    cache_entry_t *e;
    size_t n;
    err_t err;
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_EQ_INT(n, 2);
    if (n == 2) {
        T_EQ_STR(e[0].hash, b.hash8); /* oldest first */
        T_EQ_STR(e[1].hash, a.hash8);
        T_EQ_STR(e[1].path, a.root);
        T_EQ_INT(e[1].bytes, want_a);
        T_CHECK(e[1].exists);
        T_CHECK(e[1].in_use);
        T_EQ_STR(e[0].path, b.root);
        T_CHECK(!e[0].exists);
        T_CHECK(!e[0].in_use);
        T_CHECK(e[0].last_access < e[1].last_access);
    }
    cache_entries_free(e, n);
    release(pid, ctl);
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_CHECK(n == 2 && !e[1].in_use);
    cache_entries_free(e, n);
    /* A missing root is an empty registry. */
    char *none = path_join(g_base, "no-such-root");
    T_EQ_INT(cache_list(none, &e, &n, &err), 0);
    T_EQ_INT(n, 0);
    free(none);
    project_free(&a);
    project_free(&b);
}

static void test_list_only_counts_hex_named_folders(void)
{
    fresh_env("names");
    project_t a;
    make_project("a", &a);
    seed(&a, 10, 0);
    const char *dirs[] = {"models", "ABCDEF12", "1234567", "123456789", "notes"};
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
        char *d = path_join(g_root, dirs[i]);
        mkdir(d, 0755);
        free(d);
    }
    char *f = path_join(g_root, "deadbeef"); /* a file, not a folder */
    write_bytes(f, 5);
    char *l = path_join(g_root, "cafebabe"); /* a link to a folder */
    T_EQ_INT(symlink(g_base, l), 0);
    cache_entry_t *e;
    size_t n;
    err_t err;
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_EQ_INT(n, 1);
    T_CHECK(n == 1 && !strcmp(e[0].hash, a.hash8));
    cache_entries_free(e, n);
    free(f);
    free(l);
    project_free(&a);
}

static void test_corrupt_project_files_are_unknown_and_evicted_by_the_cap(void)
{
    fresh_env("corrupt");
    const char *hashes[] = {"00000001", "00000002", "00000003", "00000004", "00000005"};
    for (size_t i = 0; i < ARRAY_LEN(hashes); i++) {
        char *d = path_join(g_root, hashes[i]);
        mkdir(d, 0755);
        char *pf = path_join(d, "project");
        FILE *fp = fopen(pf, "wb");
        if (i == 0) fwrite("\0\1\2binary\xff\n", 1, 11, fp); /* binary */
        if (i == 2)                                          /* too long */
            for (int k = 0; k < 10000; k++)
                fputc('/', fp);
        if (i == 3) fputs("/not/hashing/to/this/folder\n", fp); /* wrong hash */
        if (i == 4) fputs("relative/path\n", fp);
        fclose(fp); /* i == 1: empty */
        free(pf);
        free(d);
    }
    char *d = path_join(g_root, "00000006"); /* no project file at all, an index */
    mkdir(d, 0755);
    char *db = path_join(d, "index.db");
    FILE *dbf = fopen(db, "wb");
    fputs("SQLite format 3", dbf);
    fclose(dbf);
    free(db);
    free(d);
    cache_entry_t *e;
    size_t n;
    err_t err;
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_EQ_INT(n, 6);
    for (size_t i = 0; i < n; i++) {
        T_CHECK(e[i].path == NULL);
        T_CHECK(!e[i].exists);
    }
    cache_entries_free(e, n);
    cache_report_t rep;
    /* Unknown folders stay under the cap (an older embecode's indexes have no project file)
     * and go when the cap needs the room. */
    T_EQ_INT(cache_clean(g_root, UINT64_MAX, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 0);
    cache_report_free(&rep);
    T_EQ_INT(cache_clean(g_root, 0, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 6);
    cache_report_free(&rep);
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_EQ_INT(n, 0);
    cache_entries_free(e, n);
}

static void test_clean_removes_folders_of_deleted_projects(void)
{
    fresh_env("missing");
    project_t a, b;
    make_project("a", &a);
    make_project("b", &b);
    seed(&a, 100, 0);
    seed(&b, 100, 0);
    rmdir(b.root);
    cache_report_t rep;
    err_t err;
    T_EQ_INT(cache_clean(g_root, UINT64_MAX, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(report_has(rep.removed, rep.n_removed, b.hash8));
    T_CHECK(!exists(b.cache_dir));
    T_CHECK(exists(a.db_path));
    cache_report_free(&rep);
    project_free(&a);
    project_free(&b);
}

static void test_clean_evicts_least_recently_used_to_the_cap(void)
{
    fresh_env("lru");
    project_t p[3];
    const char *names[] = {"old", "mid", "new"};
    for (int i = 0; i < 3; i++) {
        make_project(names[i], &p[i]);
        seed(&p[i], 10000, 300 - 100 * i); /* old: 300 s ago, mid: 200, new: 100 */
    }
    cache_report_t rep;
    err_t err;
    /* Room for two projects: only the oldest goes. */
    T_EQ_INT(cache_clean(g_root, 25000, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(report_has(rep.removed, rep.n_removed, p[0].hash8));
    T_CHECK(rep.bytes_before > 30000 && rep.bytes_after <= 25000);
    T_EQ_INT(rep.bytes_before - rep.bytes_after, rep.removed[0].bytes);
    cache_report_free(&rep);
    T_CHECK(!exists(p[0].cache_dir));
    T_CHECK(exists(p[1].db_path) && exists(p[2].db_path));
    /* Under the cap: nothing to do. */
    T_EQ_INT(cache_clean(g_root, 25000, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 0);
    cache_report_free(&rep);
    /* Accessing mid makes new the least recently used. */
    int fd;
    T_EQ_INT(cache_enter(&p[1], &fd, &err), 0);
    cache_leave(fd);
    T_EQ_INT(cache_clean(g_root, 15000, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(report_has(rep.removed, rep.n_removed, p[2].hash8));
    cache_report_free(&rep);
    for (int i = 0; i < 3; i++)
        project_free(&p[i]);
}

static void test_clean_never_evicts_in_use_or_kept_projects(void)
{
    fresh_env("inuse");
    project_t p[3];
    const char *names[] = {"held", "kept", "free"};
    for (int i = 0; i < 3; i++) {
        make_project(names[i], &p[i]);
        seed(&p[i], 1000, 300 - 100 * i);
    }
    int ctl;
    pid_t pid = hold(&p[0], &ctl);
    rmdir(p[0].root); /* even a deleted project stays while in use */
    cache_report_t rep;
    err_t err;
    T_EQ_INT(cache_clean(g_root, 0, p[1].hash8, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(report_has(rep.removed, rep.n_removed, p[2].hash8));
    T_EQ_INT(rep.n_in_use, 1);
    T_CHECK(report_has(rep.in_use, rep.n_in_use, p[0].hash8));
    T_CHECK(exists(p[0].db_path));
    T_CHECK(exists(p[1].db_path));
    cache_report_free(&rep);
    release(pid, ctl);
    T_EQ_INT(cache_clean(g_root, 0, p[1].hash8, &rep, &err), 0);
    T_CHECK(report_has(rep.removed, rep.n_removed, p[0].hash8));
    T_CHECK(exists(p[1].db_path));
    cache_report_free(&rep);
    for (int i = 0; i < 3; i++)
        project_free(&p[i]);
}

static void test_clean_treats_a_held_daemon_lock_as_in_use(void)
{
    fresh_env("legacy");
    project_t p;
    make_project("p", &p);
    seed(&p, 1000, 100);
    /* An owner from an older embecode holds only daemon.lock. */
    int fd = open(p.lock_path, O_RDWR | O_CREAT, 0644);
    T_CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    cache_report_t rep;
    err_t err;
    T_EQ_INT(cache_clean(g_root, 0, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 0);
    T_EQ_INT(rep.n_in_use, 1);
    T_CHECK(exists(p.db_path));
    cache_report_free(&rep);
    close(fd);
    project_free(&p);
}

static void test_clean_leaves_models_other_names_and_outside_files(void)
{
    fresh_env("others");
    project_t a;
    make_project("a", &a);
    seed(&a, 1000, 100);
    char *models = path_join(g_root, "models"), *model = path_join(models, "m.gguf");
    char *notes = path_join(g_root, "notes"), *note = path_join(notes, "n.txt");
    char *upper = path_join(g_root, "ABCDEF12"), *outside = path_join(g_base, "outside.txt");
    err_t err;
    mkdir_p(models, &err);
    mkdir_p(notes, &err);
    mkdir_p(upper, &err);
    write_bytes(model, 5000);
    write_bytes(note, 10);
    write_bytes(outside, 10);
    cache_report_t rep;
    T_EQ_INT(cache_clean(g_root, 0, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(!exists(a.cache_dir));
    T_CHECK(exists(model) && exists(note) && exists(upper) && exists(outside));
    T_EQ_INT(cache_models_bytes(g_root), 5000);
    cache_report_free(&rep);
    free(models);
    free(model);
    free(notes);
    free(note);
    free(upper);
    free(outside);
    project_free(&a);
}

static void test_purge_one_then_all(void)
{
    fresh_env("purge");
    project_t p[3];
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        make_project(names[i], &p[i]);
        seed(&p[i], 100, 10);
    }
    char *models = path_join(g_root, "models"), *model = path_join(models, "m.gguf");
    char *notes = path_join(g_root, "notes");
    err_t err;
    mkdir_p(models, &err);
    mkdir_p(notes, &err);
    write_bytes(model, 700);
    cache_report_t rep;
    T_EQ_INT(cache_purge(g_root, p[0].hash8, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(!exists(p[0].cache_dir) && exists(p[1].db_path) && exists(p[2].db_path));
    T_CHECK(exists(model));
    cache_report_free(&rep);
    /* A project without a folder: nothing to do, not an error. */
    T_EQ_INT(cache_purge(g_root, p[0].hash8, &rep, &err), 0);
    T_EQ_INT(rep.n_removed + rep.n_in_use, 0);
    cache_report_free(&rep);
    T_CHECK(cache_purge(g_root, "../etc", &rep, &err) < 0);
    T_CHECK(strstr(err.msg, "../etc") != NULL);
    cache_report_free(&rep);
    /* All: every project and the models, except the one in use. */
    int ctl;
    pid_t pid = hold(&p[1], &ctl);
    T_EQ_INT(cache_purge(g_root, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_EQ_INT(rep.n_in_use, 1);
    T_CHECK(report_has(rep.in_use, rep.n_in_use, p[1].hash8));
    T_EQ_INT(rep.models_bytes, 700);
    T_CHECK(!exists(models) && !exists(p[2].cache_dir) && exists(p[1].db_path));
    T_CHECK(exists(notes));
    cache_report_free(&rep);
    release(pid, ctl);
    T_EQ_INT(cache_purge(g_root, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    T_CHECK(!exists(p[1].cache_dir));
    T_CHECK(exists(g_root));
    cache_report_free(&rep);
    free(models);
    free(model);
    free(notes);
    for (int i = 0; i < 3; i++)
        project_free(&p[i]);
}

static void test_links_inside_a_folder_are_unlinked_not_followed(void)
{
    fresh_env("links");
    project_t a;
    make_project("a", &a);
    seed(&a, 100, 10);
    char *tdir = path_join(g_base, "target"), *tfile = path_join(tdir, "precious.txt");
    err_t err;
    mkdir_p(tdir, &err);
    write_bytes(tfile, 50000);
    char *l1 = path_join(a.cache_dir, "dirlink"), *l2 = path_join(a.cache_dir, "filelink");
    char *sub = path_join(a.cache_dir, "sub"), *l3 = path_join(sub, "deeplink");
    mkdir_p(sub, &err);
    T_EQ_INT(symlink(tdir, l1), 0);
    T_EQ_INT(symlink(tfile, l2), 0);
    T_EQ_INT(symlink(tdir, l3), 0);
    cache_entry_t *e;
    size_t n;
    T_EQ_INT(cache_list(g_root, &e, &n, &err), 0);
    T_CHECK(n == 1 && e[0].bytes < 50000); /* the link targets are not counted */
    cache_entries_free(e, n);
    /* The models folder as a link: the link goes, its target stays. */
    char *models = path_join(g_root, "models");
    T_EQ_INT(symlink(tdir, models), 0);
    cache_report_t rep;
    T_EQ_INT(cache_purge(g_root, NULL, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 1);
    cache_report_free(&rep);
    T_CHECK(!exists(a.cache_dir) && !exists(models));
    T_CHECK(exists(tfile) && file_size(tfile) == 50000);
    free(tdir);
    free(tfile);
    free(l1);
    free(l2);
    free(l3);
    free(sub);
    free(models);
    project_free(&a);
}

static void test_enter_after_purge_recreates_the_folder(void)
{
    fresh_env("reenter");
    project_t a;
    make_project("a", &a);
    seed(&a, 100, 10);
    cache_report_t rep;
    err_t err;
    T_EQ_INT(cache_purge(g_root, a.hash8, &rep, &err), 0);
    cache_report_free(&rep);
    T_CHECK(!exists(a.cache_dir));
    int fd;
    T_EQ_INT(cache_enter(&a, &fd, &err), 0);
    char *pf = path_join(a.cache_dir, "project");
    T_CHECK(exists(pf));
    cache_leave(fd);
    free(pf);
    project_free(&a);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* True when /proc/locks shows a process waiting for a lock on inode ino. */
static bool lock_waiter(unsigned long ino)
{
    FILE *f = fopen("/proc/locks", "r");
    if (!f) return false;
    char line[256], needle[64];
    snprintf(needle, sizeof needle, ":%lu ", ino);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "->") && strstr(line, needle);
    fclose(f);
    return found;
}

/* A process reaches flock(LOCK_SH) on inuse.lock while an evictor holds LOCK_EX and then
 * deletes the folder: when it gets the lock, it holds it on a deleted file, and must
 * notice, recreate the folder and lock the new file. */
static void test_enter_recreates_a_folder_evicted_while_it_waited(void)
{
    fresh_env("race");
    project_t a;
    make_project("a", &a);
    seed(&a, 100, 10);
    char *lock = path_join(a.cache_dir, "inuse.lock");
    char *pf = path_join(a.cache_dir, "project");
    int ex = open(lock, O_RDWR);
    T_CHECK(ex >= 0 && flock(ex, LOCK_EX) == 0); /* play the evictor */
    struct stat st;
    fstat(ex, &st);
    pid_t pid = fork();
    if (pid == 0) {
        close(ex); /* a shared open file would share the evictor's lock */
        int fd;
        err_t err;
        if (cache_enter(&a, &fd, &err) != 0) _exit(1);
        struct stat held, now;
        bool ok =
            fstat(fd, &held) == 0 && stat(lock, &now) == 0 && same_inode(&held, &now) && exists(pf);
        _exit(ok ? 0 : 2);
    }
    bool waited = false;
    for (int i = 0; i < 500 && !(waited = lock_waiter((unsigned long)st.st_ino)); i++)
        usleep(10000);
    T_CHECK(waited);
    /* Delete the folder as an eviction does, inuse.lock last, then release the lock. */
    unlink(a.db_path);
    unlink(pf);
    unlink(lock);
    T_EQ_INT(rmdir(a.cache_dir), 0);
    close(ex);
    int status = -1;
    waitpid(pid, &status, 0);
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_CHECK(exists(lock) && exists(pf)); /* recreated */
    free(lock);
    free(pf);
    project_free(&a);
}

static void test_an_entering_process_blocks_eviction(void)
{
    fresh_env("noevict");
    project_t a;
    make_project("a", &a);
    int fd;
    err_t err;
    T_EQ_INT(cache_enter(&a, &fd, &err), 0);
    write_bytes(a.db_path, 100);
    cache_report_t rep;
    /* Even from this very process: the evictor's lock is a separate open file. */
    T_EQ_INT(cache_purge(g_root, a.hash8, &rep, &err), 0);
    T_EQ_INT(rep.n_removed, 0);
    T_EQ_INT(rep.n_in_use, 1);
    T_CHECK(exists(a.db_path));
    cache_report_free(&rep);
    cache_leave(fd);
    project_free(&a);
}

int main(void)
{
    T_RUN(test_enter_creates_folder_project_file_and_shared_lock);
    T_RUN(test_enter_touches_last_access);
    T_RUN(test_list_reports_paths_sizes_order_exists_and_in_use);
    T_RUN(test_list_only_counts_hex_named_folders);
    T_RUN(test_corrupt_project_files_are_unknown_and_evicted_by_the_cap);
    T_RUN(test_clean_removes_folders_of_deleted_projects);
    T_RUN(test_clean_evicts_least_recently_used_to_the_cap);
    T_RUN(test_clean_never_evicts_in_use_or_kept_projects);
    T_RUN(test_clean_treats_a_held_daemon_lock_as_in_use);
    T_RUN(test_clean_leaves_models_other_names_and_outside_files);
    T_RUN(test_purge_one_then_all);
    T_RUN(test_links_inside_a_folder_are_unlinked_not_followed);
    T_RUN(test_enter_after_purge_recreates_the_folder);
    T_RUN(test_enter_recreates_a_folder_evicted_while_it_waited);
    T_RUN(test_an_entering_process_blocks_eviction);
    free(g_base);
    free(g_root);
    return t_done();
}
