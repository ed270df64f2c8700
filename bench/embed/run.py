"""Driver of `make bench-embed`: ml/bert (pure Go) against sentence-transformers
(PyTorch, CPU) on the same ticket texts, the same thread count and the same
batching, each engine in its own process so that peak RSS and cold start
belong to one engine.

Texts: the 160 labeled tickets of ../shared/data/tickets-labeled.jsonl as
enricher.Ticket.Text gives them (subject + ". " + body), then the
non-empty subjects alone (156; four tickets have none): 316 texts, in that
order for both engines.

For every thread count N, batch size B and run, each engine's child process
loads the model, embeds the first text (cold start = spawn to the "FIRST"
line it prints right after), makes one warm-up pass and one timed pass over
all texts in chunks of B, then writes its vectors. Peak RSS is the child's
ru_maxrss from wait4. The engines alternate so that both see the same load.

Per-ticket latency: at B=1 each call's wall time; at B>1 each call's wall
time divided by the chunk's size (so p99 at B=32 is nearly the slowest of
the 10 chunks). Tickets/s: texts / wall time of the whole timed pass.

The table shows the best of the runs for each figure (highest tickets/s,
lowest latency, RSS and cold start) and the spread (max-min)/best over runs.
Exit status 1 if the engines' vectors disagree (cosine < 0.9999 on any text).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MIN_COSINE = 0.9999


def ticket_texts(path):
    full, subjects = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            s, b = t.get("subject", ""), t.get("body", "")
            full.append(b if not s else s if not b else s + ". " + b)
            subjects.append(s)
    return full + [s for s in subjects if s]


def spawn(cmd, env):
    """Runs one child; returns (cold_s, timings, maxrss_kb)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    cold, result = None, None
    for line in p.stdout:
        if cold is None and line.strip() == "FIRST":
            cold = time.perf_counter() - t0
        elif line.startswith("{"):
            result = json.loads(line)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 or cold is None or result is None:
        sys.exit(f"bench-embed: {' '.join(cmd)} failed (exit {p.returncode})")
    return cold, result, ru.ru_maxrss  # KB on Linux


def summarize(result, batch, n):
    sizes = [min(batch, n - i) for i in range(0, n, batch)]
    per = np.array(result["batch_ms"]) / np.array(sizes)
    return {
        "p50_ms": float(np.percentile(per, 50)),
        "p99_ms": float(np.percentile(per, 99)),
        "tickets_per_s": n / result["total_s"],
    }


def agreement(a, b):
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min()), float(np.abs(a - b).max())


def best_and_spread(values, higher_is_better):
    best = max(values) if higher_is_better else min(values)
    return best, (max(values) - min(values)) / best if best else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--go-bin", required=True, help="built ./bench/embed binary")
    ap.add_argument("--model", default=os.environ.get("MINILM_DIR"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "tickets-labeled.jsonl"))
    ap.add_argument("--threads", default=str(os.cpu_count()), help="comma-separated thread counts")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--go-cpuprofile", default="", help="profile the Go timed pass to PREFIX-N-B.prof")
    args = ap.parse_args()
    if not args.model or not os.path.isdir(args.model):
        sys.exit(f"bench-embed: model directory {args.model!r} not found; run `make models`")

    texts = ticket_texts(args.data)
    n = len(texts)
    tmp = tempfile.mkdtemp(prefix="bench-embed-")
    texts_path = os.path.join(tmp, "texts.json")
    with open(texts_path, "w", encoding="utf-8") as f:
        json.dump(texts, f)

    threads = [int(x) for x in args.threads.split(",")]
    batches = [int(x) for x in args.batches.split(",")]
    load_before = os.getloadavg()
    configs, failed = [], False
    for nt in threads:
        env = dict(os.environ, GOMAXPROCS=str(nt), OMP_NUM_THREADS=str(nt), MKL_NUM_THREADS=str(nt),
                   RAYON_NUM_THREADS=str(nt), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   TQDM_DISABLE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
        for b in batches:
            runs = {"ours": [], "pytorch": []}
            for r in range(args.runs):
                vec = {}
                for engine in ("ours", "pytorch") if r % 2 == 0 else ("pytorch", "ours"):
                    vpath = os.path.join(tmp, f"{engine}.f32")
                    if engine == "ours":
                        cmd = [args.go_bin, "-model", args.model, "-texts", texts_path,
                               "-batch", str(b), "-vectors", vpath]
                        if args.go_cpuprofile:
                            cmd += ["-cpuprofile", f"{args.go_cpuprofile}-{nt}-{b}.prof"]
                    else:
                        cmd = [sys.executable, os.path.join(HERE, "torch_embed.py"), "--model", args.model,
                               "--texts", texts_path, "--batch", str(b), "--threads", str(nt),
                               "--vectors", vpath]
                    cold, result, rss = spawn(cmd, env)
                    run = summarize(result, b, n)
                    run.update(cold_start_s=cold, peak_rss_mb=rss / 1024, load1=os.getloadavg()[0])
                    if "padded_tokens" in result:  # how much of PyTorch's work is padding
                        run.update(real_tokens=result["real_tokens"], padded_tokens=result["padded_tokens"])
                    runs[engine].append(run)
                    vec[engine] = np.fromfile(vpath, dtype="<f4").reshape(n, result["dim"])
                cos, diff = agreement(vec["ours"], vec["pytorch"])
                runs["ours"][-1].update(min_cosine=cos, max_abs_diff=diff)
                failed |= cos < MIN_COSINE
                print(f"  threads={nt} batch={b} run={r + 1}: "
                      f"ours {runs['ours'][-1]['tickets_per_s']:.1f}/s, "
                      f"pytorch {runs['pytorch'][-1]['tickets_per_s']:.1f}/s, "
                      f"min cosine {cos:.6f}, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
            configs.append({"threads": nt, "batch": b, "runs": runs, "best": best(runs)})

    report = {
        "texts": n,
        "text_source": "tickets-labeled.jsonl: 160 x (subject + '. ' + body), then the non-empty subjects",
        "machine": {"cpu": cpu_name(), "nproc": os.cpu_count(), "python": platform.python_version(),
                    "load_before": load_before, "load_after": os.getloadavg()},
        "latency_note": "per-ticket ms: batch 1 = call time; batch > 1 = call time / chunk size",
        "configs": configs,
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print_table(report, args.runs)
    print(f"\nresults: {os.path.abspath(args.out)}")
    if failed:
        sys.exit(f"bench-embed: vectors disagree (cosine < {MIN_COSINE}); the timings compare different work")


def best(runs):
    out = {}
    for engine, rs in runs.items():
        e = {}
        for key, higher in (("tickets_per_s", True), ("p50_ms", False), ("p99_ms", False),
                            ("peak_rss_mb", False), ("cold_start_s", False)):
            e[key], e[key + "_spread"] = best_and_spread([r[key] for r in rs], higher)
        out[engine] = e
    o, p = out["ours"], out["pytorch"]
    out["ratio"] = {  # ours relative to PyTorch; > 1 is better for ours in every column
        "throughput": o["tickets_per_s"] / p["tickets_per_s"],
        "p50_speedup": p["p50_ms"] / o["p50_ms"],
        "p99_speedup": p["p99_ms"] / o["p99_ms"],
        "rss_ratio_ours_over_pytorch": o["peak_rss_mb"] / p["peak_rss_mb"],
        "cold_start_speedup": p["cold_start_s"] / o["cold_start_s"],
    }
    # Each run pairs the engines back to back, so its ratio is less exposed
    # to the load of a shared machine than the ratio of the bests.
    out["ratio"]["throughput_per_run"] = [o_["tickets_per_s"] / p_["tickets_per_s"]
                                          for o_, p_ in zip(runs["ours"], runs["pytorch"])]
    out["min_cosine"] = min(r["min_cosine"] for r in runs["ours"])
    out["max_abs_diff"] = max(r["max_abs_diff"] for r in runs["ours"])
    return out


def print_table(report, nruns):
    print(f"\nbench-embed: {report['texts']} ticket texts, {report['machine']['cpu']}, "
          f"best of {nruns} run(s), load {report['machine']['load_before'][0]:.2f} -> "
          f"{report['machine']['load_after'][0]:.2f}")
    print("per-ticket ms: batch 1 = each call; batch 32 = call time / 32. (±x%) = spread over runs\n")
    hdr = f"{'thr':>3} {'batch':>5} {'engine':<8} {'p50 ms':>14} {'p99 ms':>14} {'tickets/s':>16} {'peak RSS MB':>15} {'cold start s':>15}"
    print(hdr)
    print("-" * len(hdr))
    for c in report["configs"]:
        for engine in ("ours", "pytorch"):
            e = c["best"][engine]
            cell = lambda k, fmt: f"{format(e[k], fmt)} (±{e[k + '_spread'] * 100:.0f}%)"
            print(f"{c['threads']:>3} {c['batch']:>5} {engine:<8} {cell('p50_ms', '.2f'):>14} "
                  f"{cell('p99_ms', '.2f'):>14} {cell('tickets_per_s', '.1f'):>16} "
                  f"{cell('peak_rss_mb', '.0f'):>15} {cell('cold_start_s', '.3f'):>15}")
        r = c["best"]["ratio"]
        target = 2.0 if c["batch"] == 1 else 1.5
        o = c["best"]["ours"]
        print(f"{'':>3} {'':>5} {'ratio':<8} {r['p50_speedup']:>13.2f}x {r['p99_speedup']:>13.2f}x "
              f"{r['throughput']:>15.2f}x {r['rss_ratio_ours_over_pytorch']:>14.2f}x "
              f"{r['cold_start_speedup']:>14.2f}x")
        pr_ = r["throughput_per_run"]
        print(f"{'':>3} {'':>5} {'targets':<8} throughput >= {target}x: {ok(r['throughput'] >= target)} "
              f"(per run {min(pr_):.2f}x..{max(pr_):.2f}x); "
              f"cold start < 1 s: {ok(o['cold_start_s'] < 1)}; RSS below PyTorch: "
              f"{ok(r['rss_ratio_ours_over_pytorch'] < 1)}; vectors min cosine "
              f"{c['best']['min_cosine']:.6f}, max |diff| {c['best']['max_abs_diff']:.1e}")
        pr = c["runs"]["pytorch"][-1]
        if "padded_tokens" in pr:
            print(f"{'':>3} {'':>5} {'tokens':<8} ours computes {pr['real_tokens']} (no padding); PyTorch "
                  f"{pr['padded_tokens']} ({pr['padded_tokens'] / pr['real_tokens']:.2f}x: each chunk "
                  f"padded to its longest text)")
        print()
    print("ratio row: latency, throughput and cold start as PyTorch/ours speedups (>1 = ours faster); "
          "RSS as ours/PyTorch (<1 = ours smaller)")


def ok(b):
    return "PASS" if b else "MISS"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
