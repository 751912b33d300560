/* fuzz_gguf.c — libFuzzer target for the GGUF reader. Build and run by hand from /work/main:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=c17 -Isrc \
 *       tests/fuzz/fuzz_gguf.c src/gguf.c src/util.c src/log.c -o /tmp/fuzz_gguf
 *   mkdir -p /tmp/gguf-corpus && cp ../shared/testdata/vocab/ggml-vocab-bert-bge.gguf
 * /tmp/gguf-corpus/ /tmp/fuzz_gguf -max_len=65536 -max_total_time=300 /tmp/gguf-corpus
 *
 * Every input must either fail with a message or open into a gguf_t whose tensors and
 * strings all lie inside the input. */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_gguf: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_t err = {{0}};
    gguf_t *g = gguf_open_memory(data, size, "fuzz.gguf", &err);
    if (!g) {
        check(err.msg[0] != 0, "failure without a message");
        return 0;
    }
    const uint8_t *end = data + size;
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor_t *t = gguf_tensor_at(g, i);
        const uint8_t *p = t->data;
        check(p >= data && t->nbytes <= (size_t)(end - p), "tensor data out of bounds");
        check(gguf_find_tensor(g, t->name) == t, "tensor lookup");
    }
    for (size_t i = 0; i < gguf_kv_count(g); i++) {
        size_t len;
        const char *k = gguf_kv_key(g, i, &len);
        check((const uint8_t *)k >= data && len <= (size_t)(end - (const uint8_t *)k),
              "key out of bounds");
        char key[256];
        if (len >= sizeof key || memchr(k, 0, len)) continue;
        memcpy(key, k, len);
        key[len] = 0;
        const char *s;
        uint64_t u, n;
        int64_t v;
        float f;
        bool b;
        gguf_vtype_t et;
        (void)gguf_get_u64(g, key, &u);
        (void)gguf_get_i64(g, key, &v);
        (void)gguf_get_f32(g, key, &f);
        (void)gguf_get_bool(g, key, &b);
        if (gguf_get_str(g, key, &s, &len) == 0)
            check((const uint8_t *)s >= data && len <= (size_t)(end - (const uint8_t *)s),
                  "string out of bounds");
        if (gguf_get_arr_info(g, key, &et, &n) == 0)
            for (uint64_t j = 0; j < n && j < 100000; j++) {
                if (gguf_get_arr_str(g, key, j, &s, &len) == 0)
                    check((const uint8_t *)s >= data && len <= (size_t)(end - (const uint8_t *)s),
                          "array string out of bounds");
                (void)gguf_get_arr_i64(g, key, j, &v);
                (void)gguf_get_arr_f32(g, key, j, &f);
            }
    }
    gguf_close(g);
    return 0;
}
