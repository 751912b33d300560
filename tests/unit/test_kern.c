/* test_kern.c — kernels: exact 16-bit conversions, row decoding, matmul of every weight type
 * in every arithmetic mode at every ISA level the CPU has, against a double-precision
 * reference; the worker pool. */
#include "kern.h"
#include "t.h"

#include <math.h>
#include <stdatomic.h>

/* ---- helpers -------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Roughly normal, mean 0, sd 1. */
static float rng_normal(void)
{
    float s = 0;
    for (int i = 0; i < 4; i++) s += (float)(rng_u32() & 0xffffff) / 16777216.0f;
    return (s - 2.0f) * 1.7320508f;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

/* The value of an f16 bit pattern computed independently, in double. */
static double f16_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Encodes float weights w (n_out × n_in) as `type`; returns malloc'd data. Q4_0/Q8_0 use
 * ggml's quantisers (Q4_0: d = max / -8 by signed max-abs element). */
static unsigned char *encode(gguf_dtype_t type, const float *w, size_t n_out, size_t n_in)
{
    size_t rb = kern_row_bytes(type, n_in);
    unsigned char *out = malloc(rb * n_out);
    for (size_t o = 0; o < n_out; o++) {
        const float *x = w + o * n_in;
        unsigned char *p = out + o * rb;
        switch (type) {
        case GGUF_F32: memcpy(p, x, n_in * 4); break;
        case GGUF_F16:
            for (size_t i = 0; i < n_in; i++) put_u16(p + 2 * i, kern_f32_to_f16(x[i]));
            break;
        case GGUF_BF16:
            for (size_t i = 0; i < n_in; i++) put_u16(p + 2 * i, kern_f32_to_bf16(x[i]));
            break;
        case GGUF_Q8_0:
            for (size_t b = 0; b < n_in / 32; b++, p += 34) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
                float d = amax / 127, id = d ? 1 / d : 0;
                put_u16(p, kern_f32_to_f16(d));
                for (int j = 0; j < 32; j++) p[2 + j] = (unsigned char)(int8_t)lrintf(x[b * 32 + j] * id);
            }
            break;
        case GGUF_Q4_0:
            for (size_t b = 0; b < n_in / 32; b++, p += 18) {
                float amax = 0, max = 0;
                for (int j = 0; j < 32; j++)
                    if (fabsf(x[b * 32 + j]) > amax) amax = fabsf(max = x[b * 32 + j]);
                float d = max / -8, id = d ? 1 / d : 0;
                put_u16(p, kern_f32_to_f16(d));
                for (int j = 0; j < 16; j++) {
                    int lo = (int)(x[b * 32 + j] * id + 8.5f), hi = (int)(x[b * 32 + j + 16] * id + 8.5f);
                    lo = lo > 15 ? 15 : lo;
                    hi = hi > 15 ? 15 : hi;
                    p[2 + j] = (unsigned char)(lo | (hi << 4));
                }
            }
            break;
        }
    }
    return out;
}

static const gguf_dtype_t all_types[] = {GGUF_F32, GGUF_F16, GGUF_BF16, GGUF_Q8_0, GGUF_Q4_0};
static const char *type_name(gguf_dtype_t t)
{
    switch (t) {
    case GGUF_F32: return "F32";
    case GGUF_F16: return "F16";
    case GGUF_BF16: return "BF16";
    case GGUF_Q8_0: return "Q8_0";
    case GGUF_Q4_0: return "Q4_0";
    }
    return "?";
}

/* ---- conversions ---------------------------------------------------------------------- */

static void test_f16_to_f32_is_exact_for_every_bit_pattern(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31;
        if (e == 31) {
            bool want_nan = (h & 1023) != 0;
            bool ok = want_nan ? isnan(f) && ((fbits(f) >> 31) == (h >> 15))
                               : isinf(f) && ((f < 0) == ((h >> 15) != 0));
            bad += !ok;
        } else {
            double v = f16_value((uint16_t)h);
            bad += (double)f != v || (signbit(f) != 0) != ((h & 0x8000) != 0);
        }
    }
    T_EQ_INT(bad, 0);
}

static void test_f32_to_f16_round_trips_and_rounds_ties_to_even(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_f16_to_f32((uint16_t)h);
        uint16_t back = kern_f32_to_f16(f);
        if (isnan(f))
            bad += (back & 0x7c00) != 0x7c00 || !(back & 1023) || (back & 0x8000) != (h & 0x8000);
        else
            bad += back != h;
        /* Midpoints between consecutive finite positive halves. */
        if (h < 0x7bff) {
            double a = f16_value((uint16_t)h), b = f16_value((uint16_t)(h + 1));
            float mid = (float)((a + b) / 2); /* exact: needs 12 significant bits */
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            bad += kern_f32_to_f16(mid) != even;
            bad += kern_f32_to_f16(nextafterf(mid, INFINITY)) != h + 1;
            bad += kern_f32_to_f16(nextafterf(mid, 0)) != h;
            bad += kern_f32_to_f16(-mid) != (even | 0x8000);
        }
    }
    T_EQ_INT(bad, 0);
    T_EQ_INT(kern_f32_to_f16(65520.0f), 0x7c00);       /* halfway to 2^16: rounds to inf */
    T_EQ_INT(kern_f32_to_f16(65519.99f), 0x7bff);      /* max half */
    T_EQ_INT(kern_f32_to_f16(1e10f), 0x7c00);
    T_EQ_INT(kern_f32_to_f16(-INFINITY), 0xfc00);
    T_EQ_INT(kern_f32_to_f16(ldexpf(1, -25)), 0);          /* tie to even: zero */
    T_EQ_INT(kern_f32_to_f16(nextafterf(ldexpf(1, -25), 1)), 1);
    T_EQ_INT(kern_f32_to_f16(ldexpf(3, -26)), 2 - 1); /* 0.75 * 2^-24 → 1 ulp */
    T_EQ_INT(kern_f32_to_f16(1e-30f), 0);
    T_EQ_INT(kern_f32_to_f16(-1e-30f), 0x8000);
    T_CHECK((kern_f32_to_f16(NAN) & 0x7e00) == 0x7e00);
}

static void test_bf16_conversions_are_exact_and_round_ties_to_even(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_bf16_to_f32((uint16_t)h);
        bool is_nan = ((h >> 7) & 0xff) == 0xff && (h & 0x7f);
        if (is_nan) {
            bad += !isnan(f) || (fbits(f) >> 31) != (h >> 15);
            uint16_t back = kern_f32_to_bf16(f);
            bad += (back & 0x7f80) != 0x7f80 || !(back & 0x7f);
            continue;
        }
        bad += fbits(f) != (h << 16);
        bad += kern_f32_to_bf16(f) != h;
        if ((h & 0x7fff) < 0x7f7f) { /* midpoint to the next value up in magnitude */
            uint32_t mid = (h << 16) | 0x8000;
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            bad += kern_f32_to_bf16(bitsf(mid)) != even;
            bad += kern_f32_to_bf16(bitsf(mid + 1)) != (uint16_t)(h + 1);
            bad += kern_f32_to_bf16(bitsf(mid - 1)) != h;
        }
    }
    T_EQ_INT(bad, 0);
    T_EQ_INT(kern_f32_to_bf16(bitsf(0x7f7fffff)), 0x7f80); /* max float rounds to inf */
    T_CHECK(isnan(kern_bf16_to_f32(kern_f32_to_bf16(bitsf(0x7f800001))))); /* sNaN stays NaN */
}

static void test_row_to_f32_decodes_q8_0_and_q4_0_blocks(void)
{
    unsigned char q8[68], q4[36];
    put_u16(q8, kern_f32_to_f16(0.5f));
    put_u16(q8 + 34, kern_f32_to_f16(-2.0f));
    for (int j = 0; j < 32; j++) {
        q8[2 + j] = (unsigned char)(int8_t)(j - 16);
        q8[36 + j] = (unsigned char)(int8_t)(j == 0 ? -128 : 127 - j);
    }
    put_u16(q4, kern_f32_to_f16(0.25f));
    put_u16(q4 + 18, kern_f32_to_f16(3.0f));
    for (int j = 0; j < 16; j++) {
        q4[2 + j] = (unsigned char)(j | ((15 - j) << 4));
        q4[20 + j] = (unsigned char)((j * 7) & 0xff);
    }
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        T_EQ_INT(kern_isa_set((kern_isa_t)isa), 0);
        float out[64];
        kern_row_to_f32(GGUF_Q8_0, q8, 64, out);
        int bad = 0;
        for (int j = 0; j < 32; j++) {
            bad += out[j] != 0.5f * (float)(j - 16);
            bad += out[32 + j] != -2.0f * (float)(j == 0 ? -128 : 127 - j);
        }
        kern_row_to_f32(GGUF_Q4_0, q4, 64, out);
        for (int j = 0; j < 16; j++) {
            bad += out[j] != 0.25f * (float)(j - 8);
            bad += out[16 + j] != 0.25f * (float)(15 - j - 8);
            bad += out[32 + j] != 3.0f * (float)(((j * 7) & 15) - 8);
            bad += out[48 + j] != 3.0f * (float)((((j * 7) & 0xff) >> 4) - 8);
        }
        T_EQ_INT(bad, 0);
    }
    kern_isa_set(kern_isa_best());
}

static void test_row_to_f32_matches_scalar_decoding_for_f16_and_bf16(void)
{
    enum { N = 1000 };
    unsigned char h[2 * N], b[2 * N];
    for (int i = 0; i < N; i++) {
        put_u16(h + 2 * i, (uint16_t)(i * 65 + 7));
        put_u16(b + 2 * i, (uint16_t)(i * 65 + 7));
    }
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        kern_isa_set((kern_isa_t)isa);
        for (size_t n = 1; n <= N; n += 37) {
            float out[N];
            int bad = 0;
            kern_row_to_f32(GGUF_F16, h, n, out);
            for (size_t i = 0; i < n; i++) {
                float want = kern_f16_to_f32((uint16_t)(i * 65 + 7));
                bad += isnan(want) ? !isnan(out[i]) : fbits(out[i]) != fbits(want);
            }
            kern_row_to_f32(GGUF_BF16, b, n, out);
            for (size_t i = 0; i < n; i++) {
                float want = kern_bf16_to_f32((uint16_t)(i * 65 + 7));
                bad += isnan(want) ? !isnan(out[i]) : fbits(out[i]) != fbits(want);
            }
            T_EQ_INT(bad, 0);
        }
    }
    kern_isa_set(kern_isa_best());
}

static void test_row_bytes_per_type(void)
{
    T_EQ_INT(kern_row_bytes(GGUF_F32, 384), 1536);
    T_EQ_INT(kern_row_bytes(GGUF_F16, 384), 768);
    T_EQ_INT(kern_row_bytes(GGUF_BF16, 3), 6);
    T_EQ_INT(kern_row_bytes(GGUF_Q8_0, 384), 12 * 34);
    T_EQ_INT(kern_row_bytes(GGUF_Q4_0, 384), 12 * 18);
}

/* ---- matmul --------------------------------------------------------------------------- */

/* ||Y - ref|| / ||ref|| for one product, computed in double from the decoded weights.
 * A product with few outputs can cancel to a tiny ||ref||, which says nothing about the
 * kernel; there the error is measured against sum |x·w| per output instead (the scale of
 * the classic dot-product error bound). */
static double matmul_rel_err(kern_pool_t *pool, gguf_dtype_t type, kern_mode_t mode,
                             size_t rows, size_t n_in, size_t n_out, bool with_bias)
{
    float *w = malloc(n_out * n_in * 4), *x = malloc(rows * n_in * 4);
    float *bias = malloc(n_out * 4), *y = malloc(rows * n_out * 4), *wd = malloc(n_out * n_in * 4);
    for (size_t i = 0; i < n_out * n_in; i++) w[i] = rng_normal() * 0.05f;
    for (size_t i = 0; i < rows * n_in; i++) x[i] = rng_normal();
    for (size_t i = 0; i < n_out; i++) bias[i] = rng_normal() * 0.1f;
    unsigned char *data = encode(type, w, n_out, n_in);
    size_t rb = kern_row_bytes(type, n_in);
    for (size_t o = 0; o < n_out; o++) kern_row_to_f32(type, data + o * rb, n_in, wd + o * n_in);
    for (size_t i = 0; i < rows * n_out; i++) y[i] = NAN;
    err_t err;
    kern_mat_t *m = kern_mat_new(type, data, n_out, n_in, mode, &err);
    double num = 0, den = 0, den_abs = 0;
    if (!m) {
        fprintf(stderr, "kern_mat_new: %s\n", err.msg);
        num = INFINITY, den = 1;
    } else {
        kern_matmul(pool, m, x, rows, with_bias ? bias : NULL, y);
        for (size_t r = 0; r < rows; r++)
            for (size_t o = 0; o < n_out; o++) {
                double s = with_bias ? bias[o] : 0, sa = fabs(s);
                for (size_t i = 0; i < n_in; i++) {
                    s += (double)x[r * n_in + i] * wd[o * n_in + i];
                    sa += fabs((double)x[r * n_in + i] * wd[o * n_in + i]);
                }
                double d = y[r * n_out + o] - s;
                num += isnan(d) ? INFINITY : d * d;
                den += s * s;
                den_abs += sa * sa;
            }
    }
    kern_mat_free(m);
    free(w), free(x), free(bias), free(y), free(wd), free(data);
    if (rows * n_out < 64) den = den_abs;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double mode_tol(kern_mode_t mode)
{
    return mode == KERN_MODE_F32 ? 1e-5 : mode == KERN_MODE_BF16 ? 1e-2 : 2e-2;
}

static const char *mode_str(kern_mode_t m)
{
    return m == KERN_MODE_F32 ? "f32" : m == KERN_MODE_BF16 ? "bf16" : "int8";
}

static int check_shapes(kern_pool_t *pool, const size_t *rows, int nr, const size_t *ins, int ni,
                        const size_t *outs, int no)
{
    int bad = 0;
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        kern_isa_set((kern_isa_t)isa);
        for (size_t t = 0; t < ARRAY_LEN(all_types); t++)
            for (int mode = 0; mode < 3; mode++)
                for (int a = 0; a < nr; a++)
                    for (int b = 0; b < ni; b++)
                        for (int c = 0; c < no; c++) {
                            gguf_dtype_t ty = all_types[t];
                            bool quant = ty == GGUF_Q8_0 || ty == GGUF_Q4_0;
                            if (quant && ins[b] % 32) continue;
                            double e = matmul_rel_err(pool, ty, (kern_mode_t)mode, rows[a], ins[b],
                                                      outs[c], (a + b + c) & 1);
                            if (!(e < mode_tol((kern_mode_t)mode))) {
                                fprintf(stderr, "  %s %s %s rows=%zu n_in=%zu n_out=%zu: rel err %g\n",
                                        kern_isa_name(), type_name(ty), mode_str((kern_mode_t)mode),
                                        rows[a], ins[b], outs[c], e);
                                bad++;
                            }
                        }
    }
    kern_isa_set(kern_isa_best());
    return bad;
}

static void test_matmul_small_shapes_every_type_mode_and_isa(void)
{
    static const size_t rows[] = {1, 3, 17}, ins[] = {1, 5, 32, 33, 64, 96, 161},
                        outs[] = {1, 7, 33, 50};
    kern_pool_t *pool = kern_pool_new(2);
    T_EQ_INT(check_shapes(pool, rows, 3, ins, 7, outs, 4), 0);
    kern_pool_free(pool);
}

static void test_matmul_model_shapes_every_type_mode_and_isa(void)
{
    static const size_t rows[] = {64}, ins[] = {384, 383}, outs[] = {384};
    static const size_t rows2[] = {9}, ins2[] = {3072}, outs2[] = {33};
    kern_pool_t *pool = kern_pool_new(2);
    T_EQ_INT(check_shapes(pool, rows, 1, ins, 2, outs, 1), 0);
    T_EQ_INT(check_shapes(pool, rows2, 1, ins2, 1, outs2, 1), 0);
    kern_pool_free(pool);
}

/* Activations shaped like a transformer's hidden states: heavy tails and a few outlier
 * channels 30x larger than the rest. Every output row of the bf16 and int8 modes must stay
 * within cosine 0.999 of the f32 result (per-32-block scales keep the outliers from costing
 * the rest of the row its precision). */
static void test_reduced_precision_modes_keep_cosine_on_outlier_activations(void)
{
    size_t rows = 40, n_in = 768, n_out = 96;
    float *x = malloc(rows * n_in * 4), *w = malloc(n_out * n_in * 4);
    float *y32 = malloc(rows * n_out * 4), *y = malloc(rows * n_out * 4);
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < n_in; i++) {
            float v = rng_normal();
            v = v * v * v / 3; /* heavy-tailed */
            if (i == 17 || i == 300 || i == 301) v *= 30;
            x[r * n_in + i] = v;
        }
    for (size_t i = 0; i < n_out * n_in; i++) w[i] = rng_normal() * 0.03f;
    unsigned char *q8 = encode(GGUF_Q8_0, w, n_out, n_in);
    const void *datas[2] = {w, q8};
    gguf_dtype_t types[2] = {GGUF_F32, GGUF_Q8_0};
    double worst = 1;
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        kern_isa_set((kern_isa_t)isa);
        for (int t = 0; t < 2; t++) {
            kern_mat_t *m32 = kern_mat_new(types[t], datas[t], n_out, n_in, KERN_MODE_F32, NULL);
            kern_matmul(NULL, m32, x, rows, NULL, y32);
            for (int mode = 1; mode < 3; mode++) {
                kern_mat_t *m = kern_mat_new(types[t], datas[t], n_out, n_in, (kern_mode_t)mode, NULL);
                kern_matmul(NULL, m, x, rows, NULL, y);
                for (size_t r = 0; r < rows; r++) {
                    double d = 0, a = 0, b = 0;
                    for (size_t o = 0; o < n_out; o++) {
                        d += (double)y[r * n_out + o] * y32[r * n_out + o];
                        a += (double)y[r * n_out + o] * y[r * n_out + o];
                        b += (double)y32[r * n_out + o] * y32[r * n_out + o];
                    }
                    double cosine = d / sqrt(a * b);
                    if (!(cosine >= 0.999))
                        fprintf(stderr, "  %s %s %s row %zu: cosine %.6f\n", kern_isa_name(),
                                type_name(types[t]), mode_str((kern_mode_t)mode), r, cosine);
                    if (!(cosine >= worst)) worst = cosine;
                }
                kern_mat_free(m);
            }
            kern_mat_free(m32);
        }
    }
    kern_isa_set(kern_isa_best());
    T_CHECK(worst >= 0.999);
    if (getenv("T_VERBOSE")) fprintf(stderr, "  worst cosine %.6f\n", worst);
    free(x), free(w), free(y32), free(y), free(q8);
}

static void test_matmul_gives_same_result_with_1_2_and_4_threads(void)
{
    size_t rows = 37, n_in = 160, n_out = 100;
    float *x = malloc(rows * n_in * 4), *w = malloc(n_in * n_out * 4);
    float *y[3];
    for (size_t i = 0; i < rows * n_in; i++) x[i] = rng_normal();
    for (size_t i = 0; i < n_in * n_out; i++) w[i] = rng_normal();
    kern_mat_t *m = kern_mat_new(GGUF_F32, w, n_out, n_in, KERN_MODE_F32, NULL);
    int threads[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        kern_pool_t *p = kern_pool_new(threads[k]);
        T_EQ_INT(kern_pool_threads(p), threads[k]);
        y[k] = malloc(rows * n_out * 4);
        kern_matmul(p, m, x, rows, NULL, y[k]);
        kern_pool_free(p);
    }
    T_CHECK(memcmp(y[0], y[1], rows * n_out * 4) == 0);
    T_CHECK(memcmp(y[0], y[2], rows * n_out * 4) == 0);
    kern_mat_free(m);
    for (int k = 0; k < 3; k++) free(y[k]);
    free(x), free(w);
}

static void test_mat_new_rejects_bad_shapes_and_types(void)
{
    float w[64] = {0};
    err_t err = {{0}};
    T_CHECK(kern_mat_new(GGUF_Q8_0, w, 2, 33, KERN_MODE_F32, &err) == NULL);
    T_CHECK(strstr(err.msg, "multiple of 32") != NULL);
    T_CHECK(kern_mat_new((gguf_dtype_t)12, w, 2, 32, KERN_MODE_F32, &err) == NULL);
    T_CHECK(strstr(err.msg, "type 12") != NULL);
    T_CHECK(kern_mat_new(GGUF_F32, NULL, 2, 32, KERN_MODE_F32, &err) == NULL);
    T_CHECK(kern_mat_new(GGUF_F32, w, 0, 32, KERN_MODE_F32, &err) == NULL);
    kern_mat_t *m = kern_mat_new(GGUF_F32, w, 2, 32, KERN_MODE_INT8, &err);
    T_CHECK(m != NULL);
    T_EQ_INT(kern_mat_rows(m), 2);
    T_EQ_INT(kern_mat_cols(m), 32);
    kern_mat_free(m);
    kern_mat_free(NULL);
}

static void test_dot_matches_double_reference_for_every_length(void)
{
    float a[300], b[300];
    for (int i = 0; i < 300; i++) a[i] = rng_normal(), b[i] = rng_normal();
    int bad = 0;
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        kern_isa_set((kern_isa_t)isa);
        for (size_t n = 0; n <= 300; n++) {
            double s = 0, sa = 0;
            for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i], sa += fabs((double)a[i] * b[i]);
            bad += fabs(kern_dot(a, b, n) - s) > 1e-6 * sa + 1e-30;
        }
    }
    kern_isa_set(kern_isa_best());
    T_EQ_INT(bad, 0);
}

/* ---- attention ------------------------------------------------------------------------ */

/* Max over queries of ||out - ref|| / sqrt(sum_j p_j ||v_j||^2) (ref in double; relative to
 * the size of the values averaged, since the average itself may cancel to ~0). */
static double attention_err(size_t n_q, size_t n_kv, size_t hd, bool masked)
{
    size_t ld = hd + 3; /* strided rows, as when heads are read from a fused QKV */
    float *q = malloc(n_q * ld * 4), *k = malloc(n_kv * ld * 4), *v = malloc(n_kv * ld * 4);
    float *out = malloc(n_q * (hd + 1) * 4), *mask = malloc(n_kv * 4);
    for (size_t i = 0; i < n_q * ld; i++) q[i] = rng_normal();
    for (size_t i = 0; i < n_kv * ld; i++) k[i] = rng_normal(), v[i] = rng_normal();
    for (size_t j = 0; j < n_kv; j++) mask[j] = masked && j % 3 == 1 ? -INFINITY : 0;
    for (size_t i = 0; i < n_q * (hd + 1); i++) out[i] = NAN;
    float scale = 1 / sqrtf((float)hd);
    kern_attention(n_q, n_kv, hd, q, ld, k, ld, v, ld, masked ? mask : NULL, scale, out, hd + 1);
    double worst = 0;
    double *p = malloc(n_kv * sizeof(double));
    for (size_t i = 0; i < n_q; i++) {
        double mx = -INFINITY, sum = 0, num = 0, den = 0;
        for (size_t j = 0; j < n_kv; j++) {
            double s = 0;
            for (size_t d = 0; d < hd; d++) s += (double)q[i * ld + d] * k[j * ld + d];
            p[j] = s * scale + (masked ? mask[j] : 0);
            if (p[j] > mx) mx = p[j];
        }
        for (size_t j = 0; j < n_kv; j++) sum += p[j] = exp(p[j] - mx);
        for (size_t d = 0; d < hd; d++) {
            double o = 0;
            for (size_t j = 0; j < n_kv; j++) {
                o += p[j] / sum * v[j * ld + d];
                den += p[j] / sum * v[j * ld + d] * v[j * ld + d];
            }
            double e = out[i * (hd + 1) + d] - o;
            num += isnan(e) ? INFINITY : e * e;
        }
        double err = sqrt(num / (den > 0 ? den : 1));
        if (err > worst) worst = err;
    }
    free(p), free(q), free(k), free(v), free(out), free(mask);
    return worst;
}

static void test_attention_matches_double_reference_at_every_isa(void)
{
    static const size_t nq[] = {1, 5, 6, 7, 64}, nkv[] = {1, 3, 17, 64, 65, 200},
                        hds[] = {1, 8, 32, 40, 64, 100};
    int bad = 0;
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        kern_isa_set((kern_isa_t)isa);
        for (size_t a = 0; a < ARRAY_LEN(nq); a++)
            for (size_t b = 0; b < ARRAY_LEN(nkv); b++)
                for (size_t c = 0; c < ARRAY_LEN(hds); c++) {
                    bool masked = (a + b + c) % 2 && nkv[b] > 1;
                    double e = attention_err(nq[a], nkv[b], hds[c], masked);
                    if (!(e < 2e-5)) {
                        fprintf(stderr, "  %s attention n_q=%zu n_kv=%zu hd=%zu mask=%d: err %g\n",
                                kern_isa_name(), nq[a], nkv[b], hds[c], masked, e);
                        bad++;
                    }
                }
    }
    kern_isa_set(kern_isa_best());
    T_EQ_INT(bad, 0);
}

static void test_attention_with_every_key_masked_gives_zeros(void)
{
    float q[4] = {1, 2, 3, 4}, k[8] = {1, 0, 0, 1, 2, 2, 2, 2}, v[8] = {5, 6, 7, 8, 1, 1, 1, 1};
    float mask[2] = {-INFINITY, -INFINITY}, out[4] = {NAN, NAN, NAN, NAN};
    for (int isa = 0; isa <= (int)kern_isa_best(); isa++) {
        kern_isa_set((kern_isa_t)isa);
        kern_attention(1, 2, 4, q, 4, k, 4, v, 4, mask, 0.5f, out, 4);
        for (int d = 0; d < 4; d++) T_CHECK(out[d] == 0);
        /* One key left: its value comes back exactly. */
        mask[1] = 0;
        kern_attention(1, 2, 4, q, 4, k, 4, v, 4, mask, 0.5f, out, 4);
        for (int d = 0; d < 4; d++) T_CHECK(fabsf(out[d] - 1) < 1e-6f);
        mask[1] = -INFINITY;
    }
    kern_isa_set(kern_isa_best());
}

/* ---- pool ----------------------------------------------------------------------------- */

typedef struct {
    atomic_int count[1000];
    atomic_int calls;
} pool_probe_t;

static void pool_probe(void *ctx, int i, int n)
{
    pool_probe_t *pp = ctx;
    if (n <= 1000) atomic_fetch_add(&pp->count[i], 1);
    atomic_fetch_add(&pp->calls, 1);
}

static void test_pool_runs_each_task_exactly_once(void)
{
    int threads[] = {1, 2, 4};
    for (size_t k = 0; k < ARRAY_LEN(threads); k++) {
        kern_pool_t *p = kern_pool_new(threads[k]);
        int bad = 0;
        for (int rep = 0; rep < 2000; rep++) {
            static pool_probe_t pp;
            int n = 1 + rep % 37;
            memset(&pp, 0, sizeof pp);
            kern_pool_run(p, pool_probe, &pp, n);
            bad += atomic_load(&pp.calls) != n;
            for (int i = 0; i < n; i++) bad += atomic_load(&pp.count[i]) != 1;
        }
        T_EQ_INT(bad, 0);
        kern_pool_free(p);
    }
    pool_probe_t pp;
    memset(&pp, 0, sizeof pp);
    kern_pool_run(NULL, pool_probe, &pp, 5); /* inline */
    T_EQ_INT(atomic_load(&pp.calls), 5);
    kern_pool_free(NULL);
    kern_pool_t *p = kern_pool_new(0);
    T_CHECK(kern_pool_threads(p) >= 1);
    kern_pool_free(p);
}

static void test_pool_run_is_cheap(void)
{
    kern_pool_t *p = kern_pool_new(2);
    static pool_probe_t pp;
    for (int i = 0; i < 100; i++) kern_pool_run(p, pool_probe, &pp, 2);
    double t0 = time_mono_ms();
    int reps = 2000;
    for (int i = 0; i < reps; i++) kern_pool_run(p, pool_probe, &pp, 2);
    double us = (time_mono_ms() - t0) * 1000 / reps;
    fprintf(stderr, "  kern_pool_run (2 threads, empty tasks): %.2f us per call\n", us);
    /* Generous bound: the machine is shared, a worker may be descheduled. */
    T_CHECK(us < 200);
    kern_pool_free(p);
}

static void test_isa_set_refuses_levels_above_best(void)
{
    kern_isa_t best = kern_isa_best();
    T_EQ_INT(kern_isa_current(), best);
    T_CHECK(kern_isa_name()[0] != 0);
    if (best < KERN_ISA_AVX512) T_EQ_INT(kern_isa_set(KERN_ISA_AVX512), -1);
    T_EQ_INT(kern_isa_set(KERN_ISA_SCALAR), 0);
    T_EQ_STR(kern_isa_name(), "scalar");
    T_EQ_INT(kern_isa_set(best), 0);
    fprintf(stderr, "  isa: %s\n", kern_isa_name());
}

int main(void)
{
    T_RUN(test_isa_set_refuses_levels_above_best);
    T_RUN(test_f16_to_f32_is_exact_for_every_bit_pattern);
    T_RUN(test_f32_to_f16_round_trips_and_rounds_ties_to_even);
    T_RUN(test_bf16_conversions_are_exact_and_round_ties_to_even);
    T_RUN(test_row_to_f32_decodes_q8_0_and_q4_0_blocks);
    T_RUN(test_row_to_f32_matches_scalar_decoding_for_f16_and_bf16);
    T_RUN(test_row_bytes_per_type);
    T_RUN(test_dot_matches_double_reference_for_every_length);
    T_RUN(test_mat_new_rejects_bad_shapes_and_types);
    T_RUN(test_matmul_small_shapes_every_type_mode_and_isa);
    T_RUN(test_matmul_model_shapes_every_type_mode_and_isa);
    T_RUN(test_reduced_precision_modes_keep_cosine_on_outlier_activations);
    T_RUN(test_matmul_gives_same_result_with_1_2_and_4_threads);
    T_RUN(test_attention_matches_double_reference_at_every_isa);
    T_RUN(test_attention_with_every_key_masked_gives_zeros);
    T_RUN(test_pool_runs_each_task_exactly_once);
    T_RUN(test_pool_run_is_cheap);
    return t_done();
}
