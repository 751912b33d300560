/* gguf.h — read-only access to GGUF model files (versions 2 and 3), mmapped.
 *
 * The file is mapped once; tensors and strings point into the mapping and stay valid until
 * gguf_close(). Every length, count, offset and tensor size is bound-checked against the
 * file size at open time, so a truncated or hostile file fails in gguf_open() with a clear
 * message and never causes an out-of-bounds read later. A gguf_t is immutable after open
 * and safe to share between threads. */
#ifndef EMBECODE_GGUF_H
#define EMBECODE_GGUF_H

#include "util.h"

/* ggml tensor types we accept. Others are refused at open time, by name. */
typedef enum {
    GGUF_F32 = 0,
    GGUF_F16 = 1,
    GGUF_Q4_0 = 2,
    GGUF_Q8_0 = 8,
    GGUF_BF16 = 30,
} gguf_dtype_t;

/* Metadata value types (GGUF spec numbering). */
typedef enum {
    GGUF_T_U8 = 0, GGUF_T_I8 = 1, GGUF_T_U16 = 2, GGUF_T_I16 = 3, GGUF_T_U32 = 4,
    GGUF_T_I32 = 5, GGUF_T_F32 = 6, GGUF_T_BOOL = 7, GGUF_T_STRING = 8, GGUF_T_ARRAY = 9,
    GGUF_T_U64 = 10, GGUF_T_I64 = 11, GGUF_T_F64 = 12,
} gguf_vtype_t;

typedef struct {
    const char *name;   /* NUL-terminated copy owned by the gguf_t */
    uint32_t n_dims;    /* 1..4 */
    uint64_t dims[4];   /* dims[0] is contiguous: a Linear weight [out,in] has dims {in,out} */
    uint64_t n_elems;
    gguf_dtype_t type;
    const void *data;   /* points into the mapping, aligned to general.alignment */
    uint64_t nbytes;
} gguf_tensor_t;

typedef struct gguf gguf_t;

/* Opens and validates path. Returns NULL with err filled ("model.gguf: tensor 'x' data
 * [off, off+n) lies beyond the end of the file (size S); the file is truncated or corrupt").
 * Tensor types outside gguf_dtype_t are refused by name ("tensor blk.0.ffn_up.weight has
 * type Q4_K, which embecode does not support; use an F32, F16, BF16, Q8_0 or Q4_0 file"). */
gguf_t *gguf_open(const char *path, err_t *err);
/* Same over a caller-owned buffer (kept, not copied; used by tests and fuzzing). The buffer
 * must outlive the gguf_t; tensor data is aligned relative to the buffer's start, so pass a
 * buffer aligned at least to general.alignment when the data will be read as numbers. */
gguf_t *gguf_open_memory(const void *data, size_t size, const char *name, err_t *err);
void gguf_close(gguf_t *g); /* NULL-safe */

uint32_t gguf_version(const gguf_t *g);
uint32_t gguf_alignment(const gguf_t *g); /* general.alignment, default 32 */
const char *gguf_name(const gguf_t *g);   /* the path or name given at open */
size_t gguf_tensor_count(const gguf_t *g);
const gguf_tensor_t *gguf_tensor_at(const gguf_t *g, size_t i);
/* NULL when absent. */
const gguf_tensor_t *gguf_find_tensor(const gguf_t *g, const char *name);
/* "F32", "Q4_K", ... or "type 99" (the latter in a thread-local buffer valid until the next
 * call from the same thread). */
const char *gguf_dtype_name(uint32_t type);

/* Metadata enumeration in file order (i < gguf_kv_count; NULL when out of range). Keys are
 * not NUL-terminated: (return value, *len) points into the mapping. gguf_kv_type gives the
 * value type of key (0, or -1 when absent). */
size_t gguf_kv_count(const gguf_t *g);
const char *gguf_kv_key(const gguf_t *g, size_t i, size_t *len);
int gguf_kv_type(const gguf_t *g, const char *key, gguf_vtype_t *type);

/* Metadata getters: return 0 and set *out when key exists and converts losslessly;
 * -1 when missing or of an incompatible type (integers of any width convert to the
 * requested one when the value fits; f32/f64 convert to float/double). */
int gguf_get_u32(const gguf_t *g, const char *key, uint32_t *out);
int gguf_get_u64(const gguf_t *g, const char *key, uint64_t *out);
int gguf_get_i64(const gguf_t *g, const char *key, int64_t *out);
int gguf_get_f32(const gguf_t *g, const char *key, float *out);
int gguf_get_bool(const gguf_t *g, const char *key, bool *out);
/* Strings are not NUL-terminated in the file: (*s, *len) points into the mapping. */
int gguf_get_str(const gguf_t *g, const char *key, const char **s, size_t *len);
/* Arrays: type of elements and count; then element access (bounds-checked, -1 when out of
 * range or of another type). */
int gguf_get_arr_info(const gguf_t *g, const char *key, gguf_vtype_t *elem_type, uint64_t *n);
int gguf_get_arr_str(const gguf_t *g, const char *key, uint64_t i, const char **s, size_t *len);
int gguf_get_arr_i64(const gguf_t *g, const char *key, uint64_t i, int64_t *out);
int gguf_get_arr_f32(const gguf_t *g, const char *key, uint64_t i, float *out);

#endif
