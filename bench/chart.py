"""The chart of bench/run.sh: each endpoint's throughput as a share of its physical limit,
per concurrency (matplotlib, in the chart venv bench/run.sh makes).

    chart.py RESULTS.tsv OUT.png

RESULTS.tsv: one line per endpoint and concurrency, tab-separated:
name, concurrency, rps, p50, p99, errors, limit name, limit value ("-" or "0": no limit).
"""

import collections
import sys

import matplotlib


def main(results, out):
    matplotlib.use("Agg")  # no display: before pyplot is imported
    import matplotlib.pyplot as plt

    rows = [line.rstrip("\n").split("\t") for line in open(results) if line.strip()]
    series = collections.OrderedDict()
    for name, c, rps, _p50, _p99, _err, _lname, lval in rows:
        if lval in ("-", "0"):
            continue
        series.setdefault(name, []).append((int(c), 100 * float(rps) / float(lval)))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent connections")
    ax.set_ylabel("% of the endpoint's limit")
    ax.set_title("Throughput as a share of the physical limit")
    ax.axhline(100, color="grey", linewidth=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:3])
