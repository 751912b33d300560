#!/usr/bin/python3
"""PyTorch baseline for bench/bench_embed.c: the same models (shapes and random weights as
tools/gen_fixtures.py --bench), the same batch (16 sequences x 256 tokens, no padding), 2
threads, in PyTorch's two best CPU configurations:

  f32   OpenBLAS sgemm with OPENBLAS_CORETYPE=SkylakeX (its AVX-512 kernels; set here before
        torch loads, unless the environment already sets it)
  bf16  the model converted to bfloat16 (oneDNN bf16 matmuls), and autocast to bfloat16

    /usr/bin/python3 bench/torch_embed.py [--threads 2] [--seqs 16] [--tokens 256] [--reps 3]

Prints tokens/s per model and configuration (best of --reps runs after a warm-up) and the
GFLOP/s that implies (same operation count as bench_embed.c).
"""
import os

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gen_fixtures as gf  # noqa: E402


def flops_per_token(c, T):
    linear = 4 * c.d * c.d + (3 if c.arch == "nomic-bert" else 2) * c.d * c.d_ff
    return c.n_layer * (2 * linear + 4 * T * c.d)


def run(model, ids, lens, reps, autocast=False):
    best = float("inf")
    with torch.inference_mode():
        for r in range(reps + 1):
            t0 = time.perf_counter()
            if autocast:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    model(ids, lens)
            else:
                model(ids, lens)
            if r > 0:
                best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seqs", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--configs", default="f32,bf16,autocast")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}, "
          f"mkldnn bf16: {torch.backends.mkldnn.is_available()}", flush=True)
    _, full = gf.load_bge_vocab()
    g = torch.Generator().manual_seed(42)
    for base, c in gf.bench_configs(len(full)):
        T, B = min(a.tokens, c.n_ctx), a.seqs
        ids = torch.randint(1000, c.n_vocab, (B, T), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        lens = torch.full((B,), T)
        model = gf.bench_model(c)
        fpt = flops_per_token(c, T)
        for cfg in a.configs.split(","):
            if cfg == "f32":
                t = run(model.float(), ids, lens, a.reps)
            elif cfg == "bf16":
                t = run(model.to(torch.bfloat16), ids, lens, a.reps)
            elif cfg == "autocast":
                t = run(model.float(), ids, lens, a.reps, autocast=True)
            else:
                sys.exit(f"unknown config {cfg} (f32, bf16, autocast)")
            tps = B * T / t
            print(f"{base:8s} {cfg:9s} {a.threads} threads  {B:3d} x {T:3d} tokens  "
                  f"{tps:8.0f} tokens/s  {tps * fpt / 1e9:6.1f} GFLOP/s", flush=True)
        model.float()
    return 0


if __name__ == "__main__":
    sys.exit(main())
