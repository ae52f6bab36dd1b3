#!/usr/bin/env python3
"""Reads the outputs of scripts/bench.sh (Google Benchmark JSON of bench_tapegrad and
bench_libtorch, and the logs of tapegrad-train and libtorch_train, several alternating
rounds of each) and prints medians, ratios tapegrad/LibTorch and the targets of
docs/performance.md."""

import glob
import json
import re
import statistics
import sys


def medians(pattern):
    """Median real time (and counters) per benchmark name over all files matching pattern."""
    runs = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type") == "aggregate":
                    continue
                runs.setdefault(b["run_name"], []).append(b)
    result = {}
    for name, entries in runs.items():
        med = {"time": statistics.median(e["real_time"] for e in entries), "unit": entries[0]["time_unit"]}
        for key in ("ns_per_op", "peak_rss_MiB", "fresh_buffers_per_step", "heap_news_per_step"):
            if key in entries[0]:
                med[key] = statistics.median(e[key] for e in entries)
        result[name] = med
    return result


def epoch_seconds(pattern):
    """Median seconds per epoch and the final accuracy (median) over the training logs."""
    seconds, accuracies = [], []
    for path in sorted(glob.glob(pattern)):
        text = open(path).read()
        seconds += [float(s) for s in re.findall(r"^epoch +\d+/\d+ .*?([0-9.]+) s$", text, re.M)]
        final = re.findall(r"final test accuracy ([0-9.]+)%", text)
        if final:
            accuracies.append(float(final[-1]))
    if not seconds:
        return None, None
    return statistics.median(seconds), statistics.median(accuracies)


def backend(pattern):
    """The backend line bench_tapegrad records in its JSON context."""
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            return json.load(f)["context"].get("backend", "")
    return ""


def main(directory):
    print(f"tapegrad backend: {backend(f'{directory}/tapegrad-*.json')}")
    tg = medians(f"{directory}/tapegrad-*.json")
    lt = medians(f"{directory}/libtorch-*.json")
    rows = []

    def row(label, value, reference, unit, target, limit, digits=1):
        ratio = value / reference if reference else float("nan")
        ok = "ok" if ratio <= limit else "MISSED"
        rows.append((label, f"{value:.{digits}f} {unit}", f"{reference:.{digits}f} {unit}" if reference else "-",
                     f"{ratio:.3f}", target, ok))

    for shape in ("1", "8"):
        for kind, name in (("ChainForwardRecording", "forward, recording"), ("ChainBackward", "backward"),
                           ("ChainForwardBackward", "forward + backward"), ("ChainForwardNoGrad", "forward, no_grad")):
            key = f"BM_{kind}/{shape}"
            limit = 0.10 if kind == "ChainForwardBackward" and shape == "8" else float("inf")
            # The counter is an inverted rate: seconds per op.
            row(f"per op {{{shape}{', ' + shape if shape == '8' else ''}}} {name}", 1e9 * tg[key]["ns_per_op"],
                1e9 * lt[key]["ns_per_op"], "ns", "<= 0.10" if limit < 1 else "", limit, 0)
    def floor(name, threads):
        """The faster raw sgemm library's time (argument 0 OpenBLAS, 1 oneDNN) and its name."""
        times = {lib: tg[f"{name}/{threads}/{arg}/real_time"]["time"] for arg, lib in (("0", "OpenBLAS"), ("1", "oneDNN"))}
        lib = min(times, key=times.get)
        return times[lib], lib

    for threads in ("1", "2"):
        step = tg[f"BM_MlpStep/{threads}/real_time"]["time"]
        row(f"MLP step, {threads} thread(s)", step, lt[f"BM_MlpStep/{threads}/real_time"]["time"], "ms", "<= 0.75", 0.75, 2)
        gemms, lib = floor("BM_MlpStepGemmsOnly", threads)
        row(f"MLP step vs its GEMMs on raw {lib}, {threads} thread(s)", step, gemms, "ms", "<= 1.05", 1.05, 2)
        row(f"GEMM-bound 1024^3 fwd+bwd vs LibTorch, {threads} thread(s)",
            tg[f"BM_GemmLinearForwardBackward/{threads}/real_time"]["time"],
            lt[f"BM_GemmLinearForwardBackward/{threads}/real_time"]["time"], "ms", "", float("inf"))
        raw, lib = floor("BM_GemmRaw", threads)
        row(f"GEMM-bound 1024^3 fwd+bwd vs raw {lib}, {threads} thread(s)",
            tg[f"BM_GemmLinearForwardBackward/{threads}/real_time"]["time"], raw, "ms", "<= 1.02", 1.02, 2)
    for threads in ("1", "2"):
        for net, name in (("0", "the CNN recipe"), ("1", "LibTorch's MNIST example net")):
            key = f"BM_CnnStep/{threads}/{net}/real_time"
            row(f"CNN step, {name}, {threads} thread(s)", tg[key]["time"], lt[key]["time"], "ms", "<= 0.80", 0.80, 1)
        key = f"BM_Conv2dForwardBackward/{threads}/real_time"
        row(f"conv2d fwd+bwd vs LibTorch, {threads} thread(s)", tg[key]["time"], lt[key]["time"], "ms", "", float("inf"),
            2)
        row(f"conv2d fwd+bwd vs raw oneDNN primitives, {threads} thread(s)", tg[key]["time"],
            tg[f"BM_Conv2dOneDnnPrimitives/{threads}/real_time"]["time"], "ms", "<= 1.20", 1.20, 2)
    for model, limit in (("mlp", 0.50), ("cnn", 0.80)):
        for threads in ("1", "2"):
            t_s, t_acc = epoch_seconds(f"{directory}/tapegrad-train-{model}-{threads}-*.log")
            l_s, l_acc = epoch_seconds(f"{directory}/libtorch-train-{model}-{threads}-*.log")
            if t_s and l_s:
                row(f"{model.upper()} training epoch, {threads} thread(s) (acc {t_acc:.2f}% vs {l_acc:.2f}%)", t_s, l_s,
                    "s", f"<= {limit:.2f}", limit, 2)

    width = max(len(r[0]) for r in rows)
    print(f"{'workload':<{width}}  {'tapegrad':>12}  {'reference':>12}  {'ratio':>6}  {'target':>7}")
    for label, value, reference, ratio, target, ok in rows:
        print(f"{label:<{width}}  {value:>12}  {reference:>12}  {ratio:>6}  {target:>7}  {ok if target else ''}")

    print()
    one, two = (epoch_seconds(f"{directory}/tapegrad-train-mlp-{threads}-*.log")[0] for threads in ("1", "2"))
    scaling = [("MLP step", tg["BM_MlpStep/2/real_time"]["time"] / tg["BM_MlpStep/1/real_time"]["time"]),
               ("CNN step", tg["BM_CnnStep/2/0/real_time"]["time"] / tg["BM_CnnStep/1/0/real_time"]["time"]),
               ("GEMM-bound", tg["BM_GemmLinearForwardBackward/2/real_time"]["time"]
                / tg["BM_GemmLinearForwardBackward/1/real_time"]["time"])]
    if one and two:
        scaling.append(("MLP training epoch", two / one))
    print("tapegrad, time at 2 threads / time at 1 thread (target <= 1.00): " +
          ", ".join(f"{name} {ratio:.2f}" for name, ratio in scaling))
    for lib, pattern in (("tapegrad", "rss-tapegrad-*.json"), ("LibTorch", "rss-libtorch-*.json")):
        rss = medians(f"{directory}/{pattern}")
        if rss:
            step = rss["BM_MlpStep/1/real_time"]
            extra = ""
            if "fresh_buffers_per_step" in step:
                extra = (f", fresh buffers per step {step['fresh_buffers_per_step']:.1f}, "
                         f"C++ heap allocations per step {step['heap_news_per_step']:.1f}")
            print(f"peak RSS of the MLP-step process, {lib}: {step['peak_rss_MiB']:.1f} MiB{extra}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench-results")
