/* test_gguf.c — the GGUF reader: valid files built in memory by a tiny writer, every kind of
 * truncation and corruption (which must fail with a message, never crash), and the shared
 * vocabulary file. */
#include "gguf.h"
#include "t.h"

#include <stdint.h>

#define VOCAB_GGUF "../shared/testdata/vocab/ggml-vocab-bert-bge.gguf"

/* ---- a tiny GGUF writer ---- */

typedef struct {
    uint8_t *d;
    size_t len, cap;
} wbuf_t;

static void w_bytes(wbuf_t *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 64;
        w->d = realloc(w->d, w->cap);
        if (!w->d) abort();
    }
    memcpy(w->d + w->len, p, n);
    w->len += n;
}

static void w_u8(wbuf_t *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w_u32(wbuf_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    w_bytes(w, b, 4);
}

static void w_u64(wbuf_t *w, uint64_t v)
{
    w_u32(w, (uint32_t)v);
    w_u32(w, (uint32_t)(v >> 32));
}

static void w_str(wbuf_t *w, const char *s)
{
    w_u64(w, strlen(s));
    w_bytes(w, s, strlen(s));
}

static void w_f32(wbuf_t *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    w_u32(w, u);
}

static void patch_u32(uint8_t *d, size_t pos, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        d[pos + i] = (uint8_t)(v >> (8 * i));
}

static void patch_u64(uint8_t *d, size_t pos, uint64_t v)
{
    patch_u32(d, pos, (uint32_t)v);
    patch_u32(d, pos + 4, (uint32_t)(v >> 32));
}

/* The standard test model and where its fields are, for targeted corruption. */
#define N_TENSORS 5
typedef struct {
    size_t version_pos, tensor_count_pos, kv_count_pos;
    size_t first_key_len_pos, f32_key_pos, tokens_n_pos, first_token_len_pos, i32arr_type_pos;
    size_t align_val_pos, i32_type_pos;
    size_t name_pos[N_TENSORS], ndims_pos[N_TENSORS], dim0_pos[N_TENSORS], type_pos[N_TENSORS],
        off_pos[N_TENSORS];
    size_t data_pos;
} layout_t;

static const struct {
    const char *name;
    uint32_t n_dims;
    uint64_t dims[4];
    uint32_t type;
    size_t nbytes;
} spec[N_TENSORS] = {
    {"w.f32", 2, {4, 2}, GGUF_F32, 32},         {"w.q8", 2, {32, 2}, GGUF_Q8_0, 68},
    {"w.q4", 1, {64}, GGUF_Q4_0, 36},           {"w.f16", 1, {3}, GGUF_F16, 6},
    {"w.bf16", 4, {2, 2, 2, 2}, GGUF_BF16, 32},
};

/* Builds a valid file; alignment 0 omits general.alignment (default 32). */
static wbuf_t build_model(uint32_t version, uint32_t alignment, layout_t *L)
{
    wbuf_t w = {0};
    uint32_t align = alignment ? alignment : 32;
    w_bytes(&w, "GGUF", 4);
    L->version_pos = w.len;
    w_u32(&w, version);
    L->tensor_count_pos = w.len;
    w_u64(&w, N_TENSORS);
    L->kv_count_pos = w.len;
    w_u64(&w, alignment ? 11 : 10);

    L->first_key_len_pos = w.len;
    w_str(&w, "general.architecture");
    w_u32(&w, GGUF_T_STRING);
    w_str(&w, "bert");
    w_str(&w, "bert.context_length");
    w_u32(&w, GGUF_T_U32);
    w_u32(&w, 512);
    if (alignment) {
        w_str(&w, "general.alignment");
        w_u32(&w, GGUF_T_U32);
        L->align_val_pos = w.len;
        w_u32(&w, alignment);
    }
    w_str(&w, "test.i32");
    L->i32_type_pos = w.len;
    w_u32(&w, GGUF_T_I32);
    w_u32(&w, (uint32_t)-5);
    L->f32_key_pos = w.len + 8;
    w_str(&w, "test.f32");
    w_u32(&w, GGUF_T_F32);
    w_f32(&w, 1.5f);
    w_str(&w, "test.bool");
    w_u32(&w, GGUF_T_BOOL);
    w_u8(&w, 1);
    w_str(&w, "test.u64");
    w_u32(&w, GGUF_T_U64);
    w_u64(&w, (uint64_t)1 << 40);
    w_str(&w, "test.u8");
    w_u32(&w, GGUF_T_U8);
    w_u8(&w, 200);
    w_str(&w, "tokenizer.ggml.tokens");
    w_u32(&w, GGUF_T_ARRAY);
    w_u32(&w, GGUF_T_STRING);
    L->tokens_n_pos = w.len;
    w_u64(&w, 3);
    L->first_token_len_pos = w.len;
    w_str(&w, "a");
    w_str(&w, "");
    w_str(&w, "[CLS]");
    w_str(&w, "test.i32arr");
    w_u32(&w, GGUF_T_ARRAY);
    L->i32arr_type_pos = w.len;
    w_u32(&w, GGUF_T_I32);
    w_u64(&w, 3);
    w_u32(&w, 1);
    w_u32(&w, (uint32_t)-2);
    w_u32(&w, 3);
    w_str(&w, "test.f32arr");
    w_u32(&w, GGUF_T_ARRAY);
    w_u32(&w, GGUF_T_F32);
    w_u64(&w, 2);
    w_f32(&w, 0.5f);
    w_f32(&w, -2.0f);

    size_t off = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        L->name_pos[i] = w.len;
        w_str(&w, spec[i].name);
        L->ndims_pos[i] = w.len;
        w_u32(&w, spec[i].n_dims);
        L->dim0_pos[i] = w.len;
        for (uint32_t d = 0; d < spec[i].n_dims; d++)
            w_u64(&w, spec[i].dims[d]);
        L->type_pos[i] = w.len;
        w_u32(&w, spec[i].type);
        L->off_pos[i] = w.len;
        w_u64(&w, off);
        off += spec[i].nbytes;
        off = (off + align - 1) / align * align;
    }
    while (w.len % align)
        w_u8(&w, 0);
    L->data_pos = w.len;
    for (int i = 0; i < N_TENSORS; i++) {
        for (size_t b = 0; b < spec[i].nbytes; b++)
            w_u8(&w, (uint8_t)(i * 16 + b));
        if (i + 1 < N_TENSORS)
            while ((w.len - L->data_pos) % align)
                w_u8(&w, 0xEE);
    }
    return w;
}

/* Opens a private, exact-size copy so that sanitizers catch any read past the end. */
static gguf_t *open_copy(const uint8_t *d, size_t n, err_t *err, uint8_t **copy)
{
    *copy = malloc(n ? n : 1);
    if (n) memcpy(*copy, d, n);
    return gguf_open_memory(*copy, n, "t.gguf", err);
}

/* Expects opening (d, n) to fail with a message containing `needle`. */
static void expect_fail(const uint8_t *d, size_t n, const char *needle)
{
    err_t err = {{0}};
    uint8_t *copy;
    gguf_t *g = open_copy(d, n, &err, &copy);
    T_CHECK(g == NULL);
    if (getenv("T_VERBOSE")) fprintf(stderr, "    %s\n", err.msg);
    if (!strstr(err.msg, needle)) {
        fprintf(stderr, "  expected '%s' in: %s\n", needle, err.msg);
        T_CHECK(strstr(err.msg, needle) != NULL);
    }
    T_CHECK(strncmp(err.msg, "t.gguf", 6) == 0 || strstr(err.msg, "t.gguf"));
    gguf_close(g);
    free(copy);
}

/* ---- valid files ---- */

static void check_standard_model(const gguf_t *g, const uint8_t *base, const layout_t *L)
{
    T_EQ_INT(gguf_tensor_count(g), N_TENSORS);
    for (int i = 0; i < N_TENSORS; i++) {
        const gguf_tensor_t *t = gguf_find_tensor(g, spec[i].name);
        T_CHECK(t != NULL && t == gguf_tensor_at(g, (size_t)i));
        if (!t) continue;
        T_EQ_STR(t->name, spec[i].name);
        T_EQ_INT(t->type, spec[i].type);
        T_EQ_INT(t->n_dims, spec[i].n_dims);
        T_EQ_INT(t->nbytes, spec[i].nbytes);
        uint64_t n = 1;
        for (uint32_t d = 0; d < 4; d++) {
            T_EQ_INT(t->dims[d], d < spec[i].n_dims ? spec[i].dims[d] : 1);
            n *= t->dims[d];
        }
        T_EQ_INT(t->n_elems, n);
        const uint8_t *p = t->data;
        T_EQ_INT((size_t)(p - base - L->data_pos) % gguf_alignment(g), 0);
        T_EQ_INT(p[0], i * 16);
        T_EQ_INT(p[spec[i].nbytes - 1], (uint8_t)(i * 16 + spec[i].nbytes - 1));
    }
    T_CHECK(gguf_tensor_at(g, N_TENSORS) == NULL);
    T_CHECK(gguf_find_tensor(g, "w.f3") == NULL);
    T_CHECK(gguf_find_tensor(g, "w.f32x") == NULL);
    T_CHECK(gguf_find_tensor(g, "") == NULL);
}

static void test_reads_metadata_of_every_type(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    err_t err = {{0}};
    gguf_t *g = gguf_open_memory(w.d, w.len, "t.gguf", &err);
    T_CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        free(w.d);
        return;
    }
    T_EQ_INT(gguf_version(g), 3);
    T_EQ_INT(gguf_alignment(g), 32);
    T_EQ_STR(gguf_name(g), "t.gguf");
    T_EQ_INT(gguf_kv_count(g), 10);
    size_t klen;
    const char *k = gguf_kv_key(g, 0, &klen);
    T_CHECK(k && klen == 20 && memcmp(k, "general.architecture", 20) == 0);
    T_CHECK(gguf_kv_key(g, 10, &klen) == NULL);
    gguf_vtype_t vt;
    T_CHECK(gguf_kv_type(g, "test.bool", &vt) == 0 && vt == GGUF_T_BOOL);
    T_CHECK(gguf_kv_type(g, "nope", &vt) == -1);

    const char *s;
    size_t len;
    T_CHECK(gguf_get_str(g, "general.architecture", &s, &len) == 0 && len == 4 &&
            memcmp(s, "bert", 4) == 0);
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    float f;
    bool b;
    T_CHECK(gguf_get_u32(g, "bert.context_length", &u32) == 0 && u32 == 512);
    T_CHECK(gguf_get_u64(g, "bert.context_length", &u64) == 0 && u64 == 512);
    T_CHECK(gguf_get_i64(g, "test.i32", &i64) == 0 && i64 == -5);
    T_CHECK(gguf_get_u32(g, "test.i32", &u32) == -1); /* negative does not fit */
    T_CHECK(gguf_get_u32(g, "test.u64", &u32) == -1); /* 2^40 does not fit */
    T_CHECK(gguf_get_u64(g, "test.u64", &u64) == 0 && u64 == (uint64_t)1 << 40);
    T_CHECK(gguf_get_u32(g, "test.u8", &u32) == 0 && u32 == 200);
    T_CHECK(gguf_get_f32(g, "test.f32", &f) == 0 && f == 1.5f);
    T_CHECK(gguf_get_f32(g, "test.i32", &f) == -1);
    T_CHECK(gguf_get_bool(g, "test.bool", &b) == 0 && b);
    T_CHECK(gguf_get_bool(g, "test.u8", &b) == -1);
    T_CHECK(gguf_get_str(g, "test.u8", &s, &len) == -1);
    T_CHECK(gguf_get_u32(g, "general.architecture", &u32) == -1);
    T_CHECK(gguf_get_u32(g, "missing.key", &u32) == -1);
    T_CHECK(gguf_get_u32(g, "bert.context_lengt", &u32) == -1);

    gguf_vtype_t et;
    uint64_t n;
    T_CHECK(gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &n) == 0 && et == GGUF_T_STRING &&
            n == 3);
    T_CHECK(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 0, &s, &len) == 0 && len == 1 &&
            s[0] == 'a');
    T_CHECK(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 1, &s, &len) == 0 && len == 0);
    T_CHECK(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 2, &s, &len) == 0 && len == 5 &&
            memcmp(s, "[CLS]", 5) == 0);
    T_CHECK(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 3, &s, &len) == -1);
    T_CHECK(gguf_get_arr_i64(g, "tokenizer.ggml.tokens", 0, &i64) == -1);
    T_CHECK(gguf_get_arr_info(g, "test.i32", &et, &n) == -1);
    T_CHECK(gguf_get_arr_i64(g, "test.i32arr", 1, &i64) == 0 && i64 == -2);
    T_CHECK(gguf_get_arr_i64(g, "test.i32arr", 2, &i64) == 0 && i64 == 3);
    T_CHECK(gguf_get_arr_i64(g, "test.i32arr", 3, &i64) == -1);
    T_CHECK(gguf_get_arr_f32(g, "test.i32arr", 0, &f) == -1);
    T_CHECK(gguf_get_arr_f32(g, "test.f32arr", 1, &f) == 0 && f == -2.0f);
    T_CHECK(gguf_get_arr_str(g, "test.f32arr", 0, &s, &len) == -1);
    check_standard_model(g, w.d, &L);
    gguf_close(g);
    free(w.d);
}

static void test_reads_version_2_and_custom_alignment(void)
{
    layout_t L;
    wbuf_t w = build_model(2, 64, &L);
    err_t err = {{0}};
    gguf_t *g = gguf_open_memory(w.d, w.len, "t.gguf", &err);
    T_CHECK(g != NULL);
    if (g) {
        T_EQ_INT(gguf_version(g), 2);
        T_EQ_INT(gguf_alignment(g), 64);
        check_standard_model(g, w.d, &L);
    }
    gguf_close(g);
    free(w.d);
}

static void test_opens_a_file_by_path_with_mmap(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    char *path = path_join(t_tmpdir(), "m.gguf");
    err_t err = {{0}};
    T_CHECK(file_write_atomic(path, w.d, w.len, &err) == 0);
    gguf_t *g = gguf_open(path, &err);
    T_CHECK(g != NULL);
    if (g) {
        const gguf_tensor_t *t = gguf_find_tensor(g, "w.q8");
        T_CHECK(t && ((uintptr_t)t->data % 32) == 0); /* mapping is page-aligned */
        T_EQ_STR(gguf_name(g), path);
    }
    gguf_close(g);
    gguf_close(NULL);
    free(path);
    free(w.d);
}

static void test_missing_or_empty_file_is_a_clear_error(void)
{
    err_t err = {{0}};
    T_CHECK(gguf_open("/nonexistent/dir/model.gguf", &err) == NULL);
    T_CHECK(strstr(err.msg, "/nonexistent/dir/model.gguf") != NULL);
    char *path = path_join(t_tmpdir(), "empty.gguf");
    T_CHECK(file_write_atomic(path, "", 0, &err) == 0);
    T_CHECK(gguf_open(path, &err) == NULL);
    T_CHECK(strstr(err.msg, "empty") != NULL);
    T_CHECK(gguf_open(t_tmpdir(), &err) == NULL);
    T_CHECK(strstr(err.msg, "not a regular file") != NULL);
    free(path);
}

/* ---- malformed files ---- */

static void test_every_truncation_fails_cleanly(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    for (size_t n = 0; n < w.len; n++) {
        err_t err = {{0}};
        uint8_t *copy;
        gguf_t *g = open_copy(w.d, n, &err, &copy);
        T_CHECK(g == NULL);
        T_CHECK(err.msg[0] != 0);
        gguf_close(g);
        free(copy);
    }
    expect_fail(w.d, w.len - 1, "truncated");
    expect_fail(w.d, 3, "not a GGUF file");
    free(w.d);
}

/* A file without tensors may end right after its metadata; any shorter prefix fails. */
static void test_truncated_metadata_only_file_fails_or_reads_consistently(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    patch_u64(w.d, L.tensor_count_pos, 0);
    size_t meta_end = L.name_pos[0];
    for (size_t n = 0; n <= meta_end + 40; n++) {
        err_t err = {{0}};
        uint8_t *copy;
        gguf_t *g = open_copy(w.d, n, &err, &copy);
        T_CHECK((g != NULL) == (n >= meta_end));
        if (g) {
            T_EQ_INT(gguf_kv_count(g), 10);
            T_EQ_INT(gguf_tensor_count(g), 0);
        } else {
            T_CHECK(err.msg[0] != 0);
        }
        gguf_close(g);
        free(copy);
    }
    free(w.d);
}

static void test_bad_magic_and_versions_are_refused(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    w.d[0] = 'X';
    expect_fail(w.d, w.len, "not a GGUF file");
    w.d[0] = 'G';
    patch_u32(w.d, L.version_pos, 1);
    expect_fail(w.d, w.len, "version 1 is obsolete");
    patch_u32(w.d, L.version_pos, 4);
    expect_fail(w.d, w.len, "version 4 is not supported");
    patch_u32(w.d, L.version_pos, 0x03000000);
    expect_fail(w.d, w.len, "big-endian");
    free(w.d);
}

static void test_huge_counts_and_lengths_are_refused(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    uint8_t *d = malloc(w.len);
    const uint64_t huge[] = {UINT64_MAX, UINT64_MAX / 2, (uint64_t)1 << 40, w.len};
    for (size_t h = 0; h < ARRAY_LEN(huge); h++) {
        const struct {
            size_t pos;
            const char *needle;
        } cases[] = {
            {L.tensor_count_pos, "tensors but only"},
            {L.kv_count_pos, "metadata entries but only"},
            {L.first_key_len_pos, "metadata key"},
            {L.tokens_n_pos, "strings but only"},
            {L.first_token_len_pos, "string in metadata array"},
            {L.name_pos[1], "tensor name"},
        };
        for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
            memcpy(d, w.d, w.len);
            patch_u64(d, cases[c].pos, huge[h]);
            expect_fail(d, w.len, cases[c].needle);
        }
    }
    /* Dimensions whose product overflows, or is zero. */
    memcpy(d, w.d, w.len);
    patch_u64(d, L.dim0_pos[4], (uint64_t)1 << 62);
    expect_fail(d, w.len, "too many elements");
    memcpy(d, w.d, w.len);
    patch_u64(d, L.dim0_pos[0], 0);
    expect_fail(d, w.len, "empty dimension 0");
    /* Large but representable: the data no longer fits. */
    memcpy(d, w.d, w.len);
    patch_u64(d, L.dim0_pos[0], (uint64_t)1 << 40);
    expect_fail(d, w.len, "beyond the end of the file");
    /* Too many dimensions, and none. */
    memcpy(d, w.d, w.len);
    patch_u32(d, L.ndims_pos[0], 5);
    expect_fail(d, w.len, "5 dimensions");
    memcpy(d, w.d, w.len);
    patch_u32(d, L.ndims_pos[0], 0);
    expect_fail(d, w.len, "0 dimensions");
    free(d);
    free(w.d);
}

static void test_bad_tensor_offsets_are_refused(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    uint8_t *d = malloc(w.len);
    memcpy(d, w.d, w.len);
    patch_u64(d, L.off_pos[2], 130);
    expect_fail(d, w.len, "not a multiple of the alignment 32");
    memcpy(d, w.d, w.len);
    patch_u64(d, L.off_pos[2], 64); /* inside w.q8 [32, 100) */
    expect_fail(d, w.len, "overlap");
    memcpy(d, w.d, w.len);
    patch_u64(d, L.off_pos[4], 256); /* last tensor moved past the end */
    expect_fail(d, w.len, "beyond the end of the file");
    memcpy(d, w.d, w.len);
    patch_u64(d, L.off_pos[4], UINT64_MAX - 31); /* aligned, but start + size overflows */
    expect_fail(d, w.len, "beyond the end of the file");
    memcpy(d, w.d, w.len);
    patch_u64(d, L.off_pos[0], (uint64_t)1 << 62);
    expect_fail(d, w.len, "beyond the end of the file");
    free(d);
    free(w.d);
}

static void test_unsupported_tensor_types_are_refused_by_name(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    patch_u32(w.d, L.type_pos[1], 12);
    expect_fail(w.d, w.len, "tensor 'w.q8' has type Q4_K, which embecode does not support");
    patch_u32(w.d, L.type_pos[1], 3);
    expect_fail(w.d, w.len, "type Q4_1");
    patch_u32(w.d, L.type_pos[1], 99);
    expect_fail(w.d, w.len, "has unknown type 99");
    T_EQ_STR(gguf_dtype_name(12), "Q4_K");
    T_EQ_STR(gguf_dtype_name(30), "BF16");
    T_EQ_STR(gguf_dtype_name(4), "type 4");
    T_EQ_STR(gguf_dtype_name(UINT32_MAX), "type 4294967295");
    free(w.d);
}

static void test_quantized_rows_must_be_whole_blocks(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    patch_u64(w.d, L.dim0_pos[1], 16); /* Q8_0 {16, 2} */
    patch_u64(w.d, L.dim0_pos[1] + 8, 4);
    expect_fail(w.d, w.len, "not a multiple of the block size 32");
    free(w.d);
}

static void test_duplicates_are_refused(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    uint8_t *d = malloc(w.len);
    memcpy(d, w.d, w.len);
    d[L.name_pos[1] + 8 + 3] = '4'; /* "w.q8" -> "w.q4" */
    expect_fail(d, w.len, "tensor name 'w.q4' appears twice");
    memcpy(d, w.d, w.len);
    d[L.f32_key_pos + 5] = 'i'; /* "test.f32" -> "test.i32" */
    expect_fail(d, w.len, "metadata key 'test.i32' appears twice");
    free(d);
    free(w.d);
}

static void test_malformed_metadata_is_refused(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 64, &L);
    uint8_t *d = malloc(w.len);
    memcpy(d, w.d, w.len);
    patch_u32(d, L.align_val_pos, 48);
    expect_fail(d, w.len, "not a power of two");
    memcpy(d, w.d, w.len);
    patch_u32(d, L.align_val_pos, 0);
    expect_fail(d, w.len, "not a power of two");
    memcpy(d, w.d, w.len);
    patch_u32(d, L.i32_type_pos, 13);
    expect_fail(d, w.len, "unknown value type 13");
    memcpy(d, w.d, w.len);
    patch_u32(d, L.i32arr_type_pos, GGUF_T_ARRAY);
    expect_fail(d, w.len, "nested arrays");
    memcpy(d, w.d, w.len);
    patch_u32(d, L.i32arr_type_pos, GGUF_T_U64); /* 3 u64 need 24 bytes: shifts everything */
    T_CHECK(gguf_open_memory(d, w.len, "t.gguf", &(err_t){{0}}) == NULL);
    free(d);
    free(w.d);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random corruption never crashes; whatever opens exposes only in-bounds tensors. */
static void test_random_corruption_never_crashes(void)
{
    layout_t L;
    wbuf_t w = build_model(3, 0, &L);
    int opened = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t *d = malloc(w.len);
        memcpy(d, w.d, w.len);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = rng() % L.data_pos;
            if (rng() % 2)
                d[pos] = (uint8_t)rng();
            else
                d[pos] = (uint8_t)(rng() % 2 ? 0xFF : 0);
        }
        size_t n = rng() % 8 ? w.len : rng() % w.len;
        err_t err = {{0}};
        gguf_t *g = gguf_open_memory(d, n, "t.gguf", &err);
        if (g) {
            opened++;
            for (size_t i = 0; i < gguf_tensor_count(g); i++) {
                const gguf_tensor_t *t = gguf_tensor_at(g, i);
                const uint8_t *p = t->data;
                T_CHECK(p >= d && p + t->nbytes <= d + n);
                T_CHECK(gguf_find_tensor(g, t->name) == t);
            }
            gguf_vtype_t et;
            uint64_t cnt;
            const char *s;
            size_t len;
            for (size_t i = 0; i < gguf_kv_count(g); i++) {
                const char *k = gguf_kv_key(g, i, &len);
                T_CHECK((const uint8_t *)k >= d && (const uint8_t *)k + len <= d + n);
                char key[64];
                snprintf(key, sizeof key, "%.*s", (int)EC_MIN(len, 63), k);
                uint64_t u;
                int64_t i64;
                float f;
                bool b;
                (void)gguf_get_u64(g, key, &u);
                (void)gguf_get_i64(g, key, &i64);
                (void)gguf_get_f32(g, key, &f);
                (void)gguf_get_bool(g, key, &b);
                if (gguf_get_str(g, key, &s, &len) == 0)
                    T_CHECK((const uint8_t *)s >= d && (const uint8_t *)s + len <= d + n);
                if (gguf_get_arr_info(g, key, &et, &cnt) == 0 && et != GGUF_T_STRING)
                    for (uint64_t j = 0; j < cnt; j++) {
                        (void)gguf_get_arr_i64(g, key, j, &i64);
                        (void)gguf_get_arr_f32(g, key, j, &f);
                    }
            }
            if (gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &cnt) == 0 &&
                et == GGUF_T_STRING)
                for (uint64_t i = 0; i < cnt; i++)
                    if (gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s, &len) == 0)
                        T_CHECK((const uint8_t *)s >= d && (const uint8_t *)s + len <= d + n);
        } else {
            T_CHECK(err.msg[0] != 0);
        }
        gguf_close(g);
        free(d);
    }
    T_CHECK(opened > 0); /* some flips hit harmless bytes (tensor data, string contents) */
    free(w.d);
}

/* ---- the shared vocabulary file ---- */

static void test_reads_the_bge_vocabulary_file(void)
{
    err_t err = {{0}};
    gguf_t *g = gguf_open(VOCAB_GGUF, &err);
    T_CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    T_EQ_INT(gguf_version(g), 3);
    T_EQ_INT(gguf_tensor_count(g), 0);
    const char *s;
    size_t len;
    T_CHECK(gguf_get_str(g, "general.architecture", &s, &len) == 0 && len == 4 &&
            memcmp(s, "bert", 4) == 0);
    T_CHECK(gguf_get_str(g, "tokenizer.ggml.model", &s, &len) == 0 && len == 4 &&
            memcmp(s, "bert", 4) == 0);
    uint32_t ctx;
    T_CHECK(gguf_get_u32(g, "bert.context_length", &ctx) == 0 && ctx == 512);
    gguf_vtype_t et;
    uint64_t n;
    T_CHECK(gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &n) == 0 && et == GGUF_T_STRING &&
            n == 30522);
    T_CHECK(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 101, &s, &len) == 0 && len == 5 &&
            memcmp(s, "[CLS]", 5) == 0);
    T_CHECK(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 0, &s, &len) == 0 && len == 5 &&
            memcmp(s, "[PAD]", 5) == 0);
    uint32_t id;
    T_CHECK(gguf_get_u32(g, "tokenizer.ggml.seperator_token_id", &id) == 0 && id == 102);
    gguf_close(g);
}

int main(void)
{
    T_RUN(test_reads_metadata_of_every_type);
    T_RUN(test_reads_version_2_and_custom_alignment);
    T_RUN(test_opens_a_file_by_path_with_mmap);
    T_RUN(test_missing_or_empty_file_is_a_clear_error);
    T_RUN(test_every_truncation_fails_cleanly);
    T_RUN(test_truncated_metadata_only_file_fails_or_reads_consistently);
    T_RUN(test_bad_magic_and_versions_are_refused);
    T_RUN(test_huge_counts_and_lengths_are_refused);
    T_RUN(test_bad_tensor_offsets_are_refused);
    T_RUN(test_unsupported_tensor_types_are_refused_by_name);
    T_RUN(test_quantized_rows_must_be_whole_blocks);
    T_RUN(test_duplicates_are_refused);
    T_RUN(test_malformed_metadata_is_refused);
    T_RUN(test_random_corruption_never_crashes);
    T_RUN(test_reads_the_bge_vocabulary_file);
    return t_done();
}
