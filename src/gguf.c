/* gguf.c — GGUF reader (versions 2 and 3). See gguf.h for the contract.
 *
 * Everything is validated in gguf_open_memory(): the file is parsed front to back with a
 * bounds-checked cursor, every count is bounded by the bytes that remain before anything is
 * allocated for it, and all size arithmetic goes through checked helpers. After a successful
 * open, getters only index into validated data and cannot read out of bounds. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
/* Smallest encodings, used to bound counts by the remaining bytes before allocating. */
#define MIN_KV_BYTES 13     /* u64 key length + u32 type + 1-byte value */
#define MIN_TENSOR_BYTES 32 /* u64 name length + u32 n_dims + u64 dim + u32 type + u64 off */

typedef struct {
    const char *key; /* into the buffer, not NUL-terminated */
    size_t key_len;
    uint32_t type;
    const uint8_t *val;   /* scalar: the value; string: its u64 length; array: first element */
    uint32_t elem_type;   /* arrays only */
    uint64_t n;           /* arrays only */
    const uint8_t **strs; /* string arrays only: each element's u64 length field */
} kv_t;

struct gguf {
    char *name;
    const uint8_t *base;
    size_t size;
    void *map; /* non-NULL when gguf_open() mapped the file */
    uint32_t version;
    uint32_t alignment;
    size_t n_kv;
    kv_t *kv;         /* file order */
    kv_t **kv_sorted; /* by key, for binary search */
    size_t n_tensors;
    gguf_tensor_t *tensors;         /* file order */
    gguf_tensor_t **tensors_sorted; /* by name */
};

/* ---- little-endian decoding and the bounds-checked cursor ---- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

typedef struct {
    const uint8_t *base;
    size_t size, pos;
    const char *name;
    err_t *err;
} rd_t;

static int rd_need(rd_t *r, uint64_t n, const char *what)
{
    if (n > r->size - r->pos)
        return err_set(r->err,
                       "%s: %s at byte %zu needs %" PRIu64 " bytes but the file ends at byte "
                       "%zu; the file is truncated or corrupt (download it again)",
                       r->name, what, r->pos, n, r->size);
    return 0;
}

static int rd_u32(rd_t *r, uint32_t *out, const char *what)
{
    if (rd_need(r, 4, what) < 0) return -1;
    *out = le32(r->base + r->pos);
    r->pos += 4;
    return 0;
}

static int rd_u64(rd_t *r, uint64_t *out, const char *what)
{
    if (rd_need(r, 8, what) < 0) return -1;
    *out = le64(r->base + r->pos);
    r->pos += 8;
    return 0;
}

/* Reads a string (u64 length + bytes): *s points into the buffer. */
static int rd_str(rd_t *r, const char **s, size_t *len, const char *what)
{
    uint64_t n;
    if (rd_u64(r, &n, what) < 0 || rd_need(r, n, what) < 0) return -1;
    *s = (const char *)(r->base + r->pos);
    *len = (size_t)n;
    r->pos += (size_t)n;
    return 0;
}

/* ---- names ---- */

static const char *const dtype_names[] = {
    [0] = "F32",         [1] = "F16",         [2] = "Q4_0",   [3] = "Q4_1",    [6] = "Q5_0",
    [7] = "Q5_1",        [8] = "Q8_0",        [9] = "Q8_1",   [10] = "Q2_K",   [11] = "Q3_K",
    [12] = "Q4_K",       [13] = "Q5_K",       [14] = "Q6_K",  [15] = "Q8_K",   [16] = "IQ2_XXS",
    [17] = "IQ2_XS",     [18] = "IQ3_XXS",    [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S",
    [22] = "IQ2_S",      [23] = "IQ4_XS",     [24] = "I8",    [25] = "I16",    [26] = "I32",
    [27] = "I64",        [28] = "F64",        [29] = "IQ1_M", [30] = "BF16",   [31] = "Q4_0_4_4",
    [32] = "Q4_0_4_8",   [33] = "Q4_0_8_8",   [34] = "TQ1_0", [35] = "TQ2_0",  [36] = "IQ4_NL_4_4",
    [37] = "IQ4_NL_4_8", [38] = "IQ4_NL_8_8", [39] = "MXFP4",
};

const char *gguf_dtype_name(uint32_t type)
{
    static _Thread_local char buf[32];
    if (type < ARRAY_LEN(dtype_names) && dtype_names[type]) return dtype_names[type];
    snprintf(buf, sizeof buf, "type %" PRIu32, type);
    return buf;
}

static const char *vtype_name(uint32_t t)
{
    static const char *const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return t < ARRAY_LEN(names) ? names[t] : "unknown";
}

/* Size of one scalar of metadata type t; 0 for string/array/unknown. */
static size_t vtype_size(uint32_t t)
{
    switch (t) {
    case GGUF_T_U8:
    case GGUF_T_I8:
    case GGUF_T_BOOL:
        return 1;
    case GGUF_T_U16:
    case GGUF_T_I16:
        return 2;
    case GGUF_T_U32:
    case GGUF_T_I32:
    case GGUF_T_F32:
        return 4;
    case GGUF_T_U64:
    case GGUF_T_I64:
    case GGUF_T_F64:
        return 8;
    default:
        return 0;
    }
}

/* ---- metadata ---- */

/* Parses the value of kv (whose key and type are set) at the cursor. */
static int parse_value(rd_t *r, kv_t *kv)
{
    size_t key_pos = r->pos;
    kv->val = r->base + r->pos;
    if (kv->type == GGUF_T_STRING) {
        const char *s;
        size_t len;
        return rd_str(r, &s, &len, "metadata string value");
    }
    if (kv->type != GGUF_T_ARRAY) {
        size_t sz = vtype_size(kv->type);
        if (sz == 0)
            return err_set(r->err,
                           "%s: metadata key '%.*s' has unknown value type %" PRIu32
                           " (at byte %zu); the file is corrupt or from a newer GGUF version",
                           r->name, (int)EC_MIN(kv->key_len, 200), kv->key, kv->type, key_pos);
        if (rd_need(r, sz, "metadata value") < 0) return -1;
        r->pos += sz;
        return 0;
    }
    if (rd_u32(r, &kv->elem_type, "array element type") < 0 ||
        rd_u64(r, &kv->n, "array length") < 0)
        return -1;
    kv->val = r->base + r->pos;
    if (kv->elem_type == GGUF_T_STRING) {
        /* Each string takes at least its 8-byte length: bound n before allocating. */
        if (kv->n > (r->size - r->pos) / 8)
            return err_set(r->err,
                           "%s: metadata array '%.*s' claims %" PRIu64
                           " strings but only %zu bytes remain; the file is truncated or "
                           "corrupt",
                           r->name, (int)EC_MIN(kv->key_len, 200), kv->key, kv->n,
                           r->size - r->pos);
        kv->strs = xmalloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->strs);
        for (uint64_t i = 0; i < kv->n; i++) {
            const char *s;
            size_t len;
            kv->strs[i] = r->base + r->pos;
            if (rd_str(r, &s, &len, "string in metadata array") < 0) return -1;
        }
        return 0;
    }
    size_t sz = vtype_size(kv->elem_type);
    if (sz == 0)
        return err_set(r->err,
                       "%s: metadata array '%.*s' has element type %s (%" PRIu32
                       "), which is not supported (nested arrays or a corrupt file)",
                       r->name, (int)EC_MIN(kv->key_len, 200), kv->key, vtype_name(kv->elem_type),
                       kv->elem_type);
    uint64_t nbytes;
    if (__builtin_mul_overflow(kv->n, (uint64_t)sz, &nbytes))
        return err_set(r->err, "%s: metadata array '%.*s' length %" PRIu64 " overflows", r->name,
                       (int)EC_MIN(kv->key_len, 200), kv->key, kv->n);
    if (rd_need(r, nbytes, "metadata array data") < 0) return -1;
    r->pos += (size_t)nbytes;
    return 0;
}

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, EC_MIN(alen, blen));
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int kv_ptr_cmp(const void *a, const void *b)
{
    const kv_t *x = *(kv_t *const *)a, *y = *(kv_t *const *)b;
    return key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static int parse_metadata(rd_t *r, gguf_t *g, uint64_t n_kv)
{
    if (n_kv > (r->size - r->pos) / MIN_KV_BYTES)
        return err_set(r->err,
                       "%s: header claims %" PRIu64 " metadata entries but only %zu bytes "
                       "follow; the file is truncated or corrupt",
                       r->name, n_kv, r->size - r->pos);
    g->kv = xcalloc((size_t)n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    g->kv_sorted = xmalloc(((size_t)n_kv ? (size_t)n_kv : 1) * sizeof *g->kv_sorted);
    for (size_t i = 0; i < (size_t)n_kv; i++) {
        kv_t *kv = &g->kv[i];
        g->n_kv = i + 1; /* so gguf_close frees strs of a partially parsed entry */
        if (rd_str(r, &kv->key, &kv->key_len, "metadata key") < 0 ||
            rd_u32(r, &kv->type, "metadata value type") < 0 || parse_value(r, kv) < 0)
            return -1;
        g->kv_sorted[i] = kv;
    }
    g->n_kv = (size_t)n_kv;
    qsort(g->kv_sorted, g->n_kv, sizeof *g->kv_sorted, kv_ptr_cmp);
    for (size_t i = 1; i < g->n_kv; i++)
        if (kv_ptr_cmp(&g->kv_sorted[i - 1], &g->kv_sorted[i]) == 0)
            return err_set(r->err, "%s: metadata key '%.*s' appears twice; the file is corrupt",
                           r->name, (int)EC_MIN(g->kv_sorted[i]->key_len, 200),
                           g->kv_sorted[i]->key);
    return 0;
}

static const kv_t *find_kv(const gguf_t *g, const char *key)
{
    size_t klen = strlen(key), lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const kv_t *kv = g->kv_sorted[mid];
        int c = key_cmp(kv->key, kv->key_len, key, klen);
        if (c == 0) return kv;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- tensors ---- */

/* Computes the byte size of a tensor of type t with the given dims; -1 with err if the type
 * is unsupported or the shape does not fit the type's blocks. */
static int tensor_nbytes(rd_t *r, gguf_tensor_t *t)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] == 0)
            return err_set(r->err,
                           "%s: tensor '%s' has an empty dimension %" PRIu32 "; the "
                           "file is corrupt",
                           r->name, t->name, d);
        if (__builtin_mul_overflow(n, t->dims[d], &n) || n > INT64_MAX)
            return err_set(r->err,
                           "%s: tensor '%s' has too many elements (dims %" PRIu64 " x %" PRIu64
                           " x %" PRIu64 " x %" PRIu64 "); the file "
                           "is corrupt",
                           r->name, t->name, t->dims[0], t->dims[1], t->dims[2], t->dims[3]);
    }
    t->n_elems = n;
    uint64_t bytes;
    bool ok;
    switch ((uint32_t)t->type) {
    case GGUF_F32:
        ok = !__builtin_mul_overflow(n, 4, &bytes);
        break;
    case GGUF_F16:
    case GGUF_BF16:
        ok = !__builtin_mul_overflow(n, 2, &bytes);
        break;
    case GGUF_Q8_0:
    case GGUF_Q4_0:
        if (t->dims[0] % 32 != 0)
            return err_set(r->err,
                           "%s: tensor '%s' has type %s but its first dimension %" PRIu64
                           " is not a multiple of the block size 32; the file is corrupt",
                           r->name, t->name, gguf_dtype_name(t->type), t->dims[0]);
        ok = !__builtin_mul_overflow(n / 32, t->type == GGUF_Q8_0 ? 34 : 18, &bytes);
        break;
    default:
        return err_set(r->err,
                       "%s: tensor '%s' has %s%s, which embecode does not support; use an "
                       "F32, F16, BF16, Q8_0 or Q4_0 file",
                       r->name, t->name,
                       strncmp(gguf_dtype_name(t->type), "type ", 5) ? "type " : "unknown ",
                       gguf_dtype_name(t->type));
    }
    if (!ok)
        return err_set(r->err, "%s: tensor '%s' size overflows; the file is corrupt", r->name,
                       t->name);
    t->nbytes = bytes;
    return 0;
}

/* Reads one tensor info; t->data temporarily holds the offset relative to the data section. */
static int parse_tensor_info(rd_t *r, gguf_tensor_t *t, uint64_t *offset)
{
    const char *name;
    size_t len;
    if (rd_str(r, &name, &len, "tensor name") < 0) return -1;
    if (len == 0 || memchr(name, 0, len))
        return err_set(r->err,
                       "%s: tensor name at byte %zu is empty or contains a NUL byte; "
                       "the file is corrupt",
                       r->name, r->pos - len);
    t->name = xstrndup(name, len);
    if (rd_u32(r, &t->n_dims, "tensor dimension count") < 0) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return err_set(r->err,
                       "%s: tensor '%s' has %" PRIu32 " dimensions (1 to 4 allowed); "
                       "the file is corrupt",
                       r->name, t->name, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (rd_u64(r, &t->dims[d], "tensor dimension") < 0) return -1;
    for (uint32_t d = t->n_dims; d < GGUF_MAX_DIMS; d++)
        t->dims[d] = 1;
    uint32_t type;
    if (rd_u32(r, &type, "tensor type") < 0) return -1;
    t->type = (gguf_dtype_t)type;
    if (tensor_nbytes(r, t) < 0) return -1;
    return rd_u64(r, offset, "tensor data offset");
}

static int tensor_name_cmp(const void *a, const void *b)
{
    return strcmp((*(gguf_tensor_t *const *)a)->name, (*(gguf_tensor_t *const *)b)->name);
}

static int tensor_data_cmp(const void *a, const void *b)
{
    const uint8_t *x = (*(gguf_tensor_t *const *)a)->data, *y = (*(gguf_tensor_t *const *)b)->data;
    return x < y ? -1 : x > y;
}

static int parse_tensors(rd_t *r, gguf_t *g, uint64_t n_tensors)
{
    if (n_tensors > (r->size - r->pos) / MIN_TENSOR_BYTES)
        return err_set(r->err,
                       "%s: header claims %" PRIu64 " tensors but only %zu bytes follow; the "
                       "file is truncated or corrupt",
                       r->name, n_tensors, r->size - r->pos);
    size_t n = (size_t)n_tensors;
    g->tensors = xcalloc(n ? n : 1, sizeof *g->tensors);
    g->tensors_sorted = xmalloc((n ? n : 1) * sizeof *g->tensors_sorted);
    uint64_t *offsets = xmalloc((n ? n : 1) * sizeof *offsets);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        g->n_tensors = i + 1; /* so gguf_close frees the names parsed so far */
        if (parse_tensor_info(r, &g->tensors[i], &offsets[i]) < 0) rc = -1;
    }
    /* The data section starts at the next multiple of the alignment. With no tensors the
     * file may end before that padding. */
    size_t data_off = 0;
    if (rc == 0) {
        if (__builtin_add_overflow(r->pos, (size_t)g->alignment - 1, &data_off))
            data_off = SIZE_MAX;
        data_off -= data_off % g->alignment;
        if (n > 0 && data_off > r->size)
            rc = err_set(r->err,
                         "%s: the data section (at byte %zu) lies beyond the end of "
                         "the file (size %zu); the file is truncated",
                         r->name, data_off, r->size);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        gguf_tensor_t *t = &g->tensors[i];
        uint64_t start, end;
        if (offsets[i] % g->alignment != 0)
            rc = err_set(r->err,
                         "%s: tensor '%s' data offset %" PRIu64 " is not a multiple "
                         "of the alignment %" PRIu32 "; the file is corrupt",
                         r->name, t->name, offsets[i], g->alignment);
        else if (__builtin_add_overflow((uint64_t)data_off, offsets[i], &start) ||
                 __builtin_add_overflow(start, t->nbytes, &end) || end > r->size)
            rc = err_set(r->err,
                         "%s: tensor '%s' data (%" PRIu64 " bytes at offset %" PRIu64
                         " of the data section, which starts at byte %zu) lies beyond "
                         "the end of the file (size %zu); the file is truncated or "
                         "corrupt",
                         r->name, t->name, t->nbytes, offsets[i], data_off, r->size);
        else
            t->data = r->base + start;
        g->tensors_sorted[i] = t;
    }
    free(offsets);
    if (rc < 0) return rc;
    qsort(g->tensors_sorted, n, sizeof *g->tensors_sorted, tensor_data_cmp);
    for (size_t i = 1; i < n; i++) {
        const gguf_tensor_t *a = g->tensors_sorted[i - 1], *b = g->tensors_sorted[i];
        if ((const uint8_t *)a->data + a->nbytes > (const uint8_t *)b->data)
            return err_set(r->err,
                           "%s: tensors '%s' and '%s' overlap in the data section; the "
                           "file is corrupt",
                           r->name, a->name, b->name);
    }
    qsort(g->tensors_sorted, n, sizeof *g->tensors_sorted, tensor_name_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(g->tensors_sorted[i - 1]->name, g->tensors_sorted[i]->name) == 0)
            return err_set(r->err, "%s: tensor name '%s' appears twice; the file is corrupt",
                           r->name, g->tensors_sorted[i]->name);
    return 0;
}

/* ---- open / close ---- */

static int parse_header(rd_t *r, gguf_t *g, uint64_t *n_tensors, uint64_t *n_kv)
{
    if (r->size < 4 || memcmp(r->base, "GGUF", 4) != 0) {
        if (r->size < 4)
            return err_set(r->err, "%s: not a GGUF file (only %zu bytes long)", r->name, r->size);
        return err_set(r->err,
                       "%s: not a GGUF file (starts with bytes %02x %02x %02x %02x, "
                       "expected 'GGUF'); check the model path",
                       r->name, r->base[0], r->base[1], r->base[2], r->base[3]);
    }
    r->pos = 4;
    if (rd_u32(r, &g->version, "GGUF version") < 0) return -1;
    if (g->version == 1)
        return err_set(r->err,
                       "%s: GGUF version 1 is obsolete and not supported; download or "
                       "convert the model again with a current llama.cpp",
                       r->name);
    if (g->version != 2 && g->version != 3)
        return err_set(r->err,
                       "%s: GGUF version %" PRIu32 " is not supported (embecode reads "
                       "versions 2 and 3)%s",
                       r->name, g->version,
                       (g->version & 0xffff) == 0 ? "; it may be a big-endian file" : "");
    return rd_u64(r, n_tensors, "tensor count") < 0 || rd_u64(r, n_kv, "metadata count") < 0 ? -1
                                                                                             : 0;
}

static int parse_alignment(rd_t *r, gguf_t *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const kv_t *kv = find_kv(g, "general.alignment");
    if (!kv) return 0;
    if (kv->type != GGUF_T_U32)
        return err_set(r->err,
                       "%s: general.alignment has type %s, expected u32; the file is "
                       "corrupt",
                       r->name, vtype_name(kv->type));
    uint32_t a = le32(kv->val);
    if (a == 0 || (a & (a - 1)) != 0)
        return err_set(r->err,
                       "%s: general.alignment is %" PRIu32 ", not a power of two; the "
                       "file is corrupt",
                       r->name, a);
    g->alignment = a;
    return 0;
}

gguf_t *gguf_open_memory(const void *data, size_t size, const char *name, err_t *err)
{
    if (!name) name = "(memory)";
    gguf_t *g = xcalloc(1, sizeof *g);
    g->name = xstrdup(name);
    g->base = data;
    g->size = size;
    rd_t r = {.base = data, .size = size, .pos = 0, .name = g->name, .err = err};
    uint64_t n_tensors = 0, n_kv = 0;
    if (!data && size) {
        err_set(err, "%s: no data", name);
        goto fail;
    }
    if (parse_header(&r, g, &n_tensors, &n_kv) < 0 || parse_metadata(&r, g, n_kv) < 0 ||
        parse_alignment(&r, g) < 0 || parse_tensors(&r, g, n_tensors) < 0)
        goto fail;
    return g;
fail:
    gguf_close(g);
    return NULL;
}

gguf_t *gguf_open(const char *path, err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, "cannot open model file %s: %s; check the path", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size == 0 || (uint64_t)st.st_size > SIZE_MAX) {
        err_set(err, "%s: the file is %s; download it again", path,
                st.st_size == 0 ? "empty" : "too large to map");
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        err_set(err, "cannot map %s: %s", path, strerror(errno));
        return NULL;
    }
    gguf_t *g = gguf_open_memory(map, (size_t)st.st_size, path, err);
    if (!g) {
        munmap(map, (size_t)st.st_size);
        return NULL;
    }
    g->map = map;
    return g;
}

void gguf_close(gguf_t *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++)
        free(g->kv[i].strs);
    for (size_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->tensors_sorted);
    if (g->map) munmap(g->map, g->size);
    free(g->name);
    free(g);
}

/* ---- accessors ---- */

uint32_t gguf_version(const gguf_t *g)
{
    return g->version;
}

uint32_t gguf_alignment(const gguf_t *g)
{
    return g->alignment;
}

const char *gguf_name(const gguf_t *g)
{
    return g->name;
}

size_t gguf_tensor_count(const gguf_t *g)
{
    return g->n_tensors;
}

const gguf_tensor_t *gguf_tensor_at(const gguf_t *g, size_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_tensor_t *gguf_find_tensor(const gguf_t *g, const char *name)
{
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensors_sorted[mid]->name, name);
        if (c == 0) return g->tensors_sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t gguf_kv_count(const gguf_t *g)
{
    return g->n_kv;
}

const char *gguf_kv_key(const gguf_t *g, size_t i, size_t *len)
{
    if (i >= g->n_kv) return NULL;
    *len = g->kv[i].key_len;
    return g->kv[i].key;
}

int gguf_kv_type(const gguf_t *g, const char *key, gguf_vtype_t *type)
{
    const kv_t *kv = find_kv(g, key);
    if (!kv) return -1;
    *type = (gguf_vtype_t)kv->type;
    return 0;
}

/* Decodes a scalar integer of metadata type t at p. Returns 0 on success (signed in *s when
 * *is_signed, else unsigned in *u), -1 when t is not an integer type. */
static int decode_int(uint32_t t, const uint8_t *p, bool *is_signed, int64_t *s, uint64_t *u)
{
    *is_signed = false;
    switch (t) {
    case GGUF_T_U8:
        *u = p[0];
        return 0;
    case GGUF_T_U16:
        *u = (uint64_t)p[0] | (uint64_t)p[1] << 8;
        return 0;
    case GGUF_T_U32:
        *u = le32(p);
        return 0;
    case GGUF_T_U64:
        *u = le64(p);
        return 0;
    default:
        break;
    }
    *is_signed = true;
    switch (t) {
    case GGUF_T_I8:
        *s = (int8_t)p[0];
        return 0;
    case GGUF_T_I16:
        *s = (int16_t)(uint16_t)(p[0] | p[1] << 8);
        return 0;
    case GGUF_T_I32:
        *s = (int32_t)le32(p);
        return 0;
    case GGUF_T_I64:
        *s = (int64_t)le64(p);
        return 0;
    default:
        return -1;
    }
}

/* Converts an integer value to u64 (max_u bounds it) or i64. */
static int int_to_u64(uint32_t t, const uint8_t *p, uint64_t max_u, uint64_t *out)
{
    bool sg;
    int64_t s;
    uint64_t u;
    if (decode_int(t, p, &sg, &s, &u) < 0) return -1;
    if (sg) {
        if (s < 0) return -1;
        u = (uint64_t)s;
    }
    if (u > max_u) return -1;
    *out = u;
    return 0;
}

static int int_to_i64(uint32_t t, const uint8_t *p, int64_t *out)
{
    bool sg;
    int64_t s;
    uint64_t u;
    if (decode_int(t, p, &sg, &s, &u) < 0) return -1;
    if (!sg) {
        if (u > INT64_MAX) return -1;
        s = (int64_t)u;
    }
    *out = s;
    return 0;
}

static int float_at(uint32_t t, const uint8_t *p, double *out)
{
    if (t == GGUF_T_F32) {
        uint32_t bits = le32(p);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
        return 0;
    }
    if (t == GGUF_T_F64) {
        uint64_t bits = le64(p);
        memcpy(out, &bits, sizeof *out);
        return 0;
    }
    return -1;
}

int gguf_get_u32(const gguf_t *g, const char *key, uint32_t *out)
{
    const kv_t *kv = find_kv(g, key);
    uint64_t v;
    if (!kv || int_to_u64(kv->type, kv->val, UINT32_MAX, &v) < 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_u64(const gguf_t *g, const char *key, uint64_t *out)
{
    const kv_t *kv = find_kv(g, key);
    return kv ? int_to_u64(kv->type, kv->val, UINT64_MAX, out) : -1;
}

int gguf_get_i64(const gguf_t *g, const char *key, int64_t *out)
{
    const kv_t *kv = find_kv(g, key);
    return kv ? int_to_i64(kv->type, kv->val, out) : -1;
}

int gguf_get_f32(const gguf_t *g, const char *key, float *out)
{
    const kv_t *kv = find_kv(g, key);
    double d;
    if (!kv || float_at(kv->type, kv->val, &d) < 0) return -1;
    *out = (float)d;
    return 0;
}

int gguf_get_bool(const gguf_t *g, const char *key, bool *out)
{
    const kv_t *kv = find_kv(g, key);
    if (!kv || kv->type != GGUF_T_BOOL) return -1;
    *out = kv->val[0] != 0;
    return 0;
}

int gguf_get_str(const gguf_t *g, const char *key, const char **s, size_t *len)
{
    const kv_t *kv = find_kv(g, key);
    if (!kv || kv->type != GGUF_T_STRING) return -1;
    *len = (size_t)le64(kv->val);
    *s = (const char *)kv->val + 8;
    return 0;
}

int gguf_get_arr_info(const gguf_t *g, const char *key, gguf_vtype_t *elem_type, uint64_t *n)
{
    const kv_t *kv = find_kv(g, key);
    if (!kv || kv->type != GGUF_T_ARRAY) return -1;
    *elem_type = (gguf_vtype_t)kv->elem_type;
    *n = kv->n;
    return 0;
}

/* The array kv for key when its i-th element exists. */
static const kv_t *arr_elem(const gguf_t *g, const char *key, uint64_t i)
{
    const kv_t *kv = find_kv(g, key);
    return kv && kv->type == GGUF_T_ARRAY && i < kv->n ? kv : NULL;
}

int gguf_get_arr_str(const gguf_t *g, const char *key, uint64_t i, const char **s, size_t *len)
{
    const kv_t *kv = arr_elem(g, key, i);
    if (!kv || kv->elem_type != GGUF_T_STRING) return -1;
    *len = (size_t)le64(kv->strs[i]);
    *s = (const char *)kv->strs[i] + 8;
    return 0;
}

int gguf_get_arr_i64(const gguf_t *g, const char *key, uint64_t i, int64_t *out)
{
    const kv_t *kv = arr_elem(g, key, i);
    size_t sz = kv ? vtype_size(kv->elem_type) : 0;
    if (!kv || kv->elem_type == GGUF_T_BOOL || sz == 0) return -1;
    return int_to_i64(kv->elem_type, kv->val + i * sz, out);
}

int gguf_get_arr_f32(const gguf_t *g, const char *key, uint64_t i, float *out)
{
    const kv_t *kv = arr_elem(g, key, i);
    size_t sz = kv ? vtype_size(kv->elem_type) : 0;
    double d;
    if (!kv || sz == 0 || float_at(kv->elem_type, kv->val + i * sz, &d) < 0) return -1;
    *out = (float)d;
    return 0;
}
