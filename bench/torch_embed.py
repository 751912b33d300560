#!/usr/bin/python3
"""PyTorch baseline for bench/bench_embed.c: the same models (shapes and random weights as
tools/gen_fixtures.py --bench), the same batch (16 sequences x 256 tokens, no padding), 2
threads, in PyTorch's two best CPU configurations:

  f32   OpenBLAS sgemm with OPENBLAS_CORETYPE=SkylakeX (its AVX-512 kernels; set here before
        torch loads, whatever the environment says, unless --coretype is given)
  bf16  the model converted to bfloat16 (oneDNN bf16 matmuls), and autocast to bfloat16

    /usr/bin/python3 bench/torch_embed.py [--threads 2] [--seqs 16] [--tokens 256] [--reps 3]

Prints tokens/s per model and configuration (best of --reps runs after a warm-up, each
configuration in a fresh process) and the GFLOP/s that implies (same operation count as
bench_embed.c).
"""
import os
import sys

# OpenBLAS reads these when torch loads it, so they are set before the import. The
# environment may carry another core type (e.g. Haswell); --coretype NAME overrides.
def _arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv[:-1] else default


os.environ["OPENBLAS_CORETYPE"] = _arg("--coretype", "SkylakeX")
os.environ["OPENBLAS_NUM_THREADS"] = _arg("--threads", "2")

import argparse  # noqa: E402
import subprocess  # noqa: E402
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


def bench_one(a, base, cfg):
    """One model in one configuration, in this process."""
    torch.set_num_threads(a.threads)
    _, full = gf.load_bge_vocab()
    c = dict(gf.bench_configs(len(full)))[base]
    g = torch.Generator().manual_seed(42)
    T, B = min(a.tokens, c.n_ctx), a.seqs
    ids = torch.randint(1000, c.n_vocab, (B, T), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    lens = torch.full((B,), T)
    model = gf.bench_model(c)
    if cfg == "f32":
        t = run(model, ids, lens, a.reps)
    elif cfg == "bf16":
        t = run(model.to(torch.bfloat16), ids, lens, a.reps)
    elif cfg == "autocast":
        t = run(model, ids, lens, a.reps, autocast=True)
    else:
        sys.exit(f"unknown config {cfg} (f32, bf16, autocast)")
    tps = B * T / t
    print(f"{base:8s} {cfg:9s} {a.threads} threads  {B:3d} x {T:3d} tokens  "
          f"{tps:8.0f} tokens/s  {tps * flops_per_token(c, T) / 1e9:6.1f} GFLOP/s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seqs", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default="minilm,nomic")
    ap.add_argument("--configs", default="f32,bf16,autocast")
    ap.add_argument("--coretype", default="SkylakeX", help="OPENBLAS_CORETYPE for f32")
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "CONFIG"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        bench_one(a, *a.one)
        return 0
    print(f"torch {torch.__version__}, {a.threads} threads, "
          f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}, "
          f"mkldnn: {torch.backends.mkldnn.is_available()}", flush=True)
    # Each run in a fresh process: OpenBLAS' and OpenMP's spinning worker threads left over
    # from one configuration slow the next one down by up to 2x.
    rc = 0
    for base in a.models.split(","):
        for cfg in a.configs.split(","):
            argv = [sys.executable, os.path.abspath(__file__), "--one", base, cfg,
                    "--threads", str(a.threads), "--seqs", str(a.seqs), "--tokens",
                    str(a.tokens), "--reps", str(a.reps), "--coretype", a.coretype]
            rc |= subprocess.run(argv).returncode
    return rc


if __name__ == "__main__":
    sys.exit(main())
