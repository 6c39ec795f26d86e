"""The RSS plot of scripts/soak.sh: each service's resident memory over the run, from the
CSV the soak writes (SOAK_RSS_CSV), with the size of the image listing on a second axis.

    soak_plot.py RSS.csv OUT.png

RSS.csv: a header `seconds,<service>,...,listed_images`, then one line per sample, RSS in
KiB.
"""

import csv
import sys

import matplotlib


def main(source, out):
    matplotlib.use("Agg")  # no display: before pyplot is imported
    import matplotlib.pyplot as plt

    with open(source, newline="") as f:
        rows = list(csv.reader(f))
    header, samples = rows[0], [[float(v) for v in row] for row in rows[1:] if row]
    minutes = [s[0] / 60 for s in samples]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, name in enumerate(header[1:-1], start=1):
        ax.plot(minutes, [s[i] / 1024 for s in samples], label=name)
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS, MiB")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    listed = ax.twinx()
    listed.plot(minutes, [s[-1] for s in samples], color="grey", linestyle=":", label="images listed")
    listed.set_ylabel("images in /list_images")
    listed.set_ylim(bottom=0)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = listed.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, fontsize="small", loc="lower right")
    ax.set_title("soak: resident memory per service")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
