#!/usr/bin/env python3
"""Draws docs/bandwidth.svg, bandwidth against message size, from the paired bench results.

The inputs are the outputs of `ci/bench-paired.sh` (the side-by-side tables of
benches/common), one file per bench and MPI library:

    docs/bench/pingpong-openmpi.txt   docs/bench/pingpong-mpich.txt
    docs/bench/allreduce-openmpi.txt  docs/bench/allreduce-mpich.txt

Each point is the median time of its size over the paired blocks (mpi4rs and the same loop in C,
alternating in one job), turned into bandwidth = bytes / time (MB/s, 10^6 bytes per second;
ping-pong: one-way time per message; allreduce: time per call, at 2 ranks). Python 3 standard
library only; the SVG is written by hand.

Usage: python3 tools/plot_bandwidth.py [RESULTS_DIR [OUT.svg]]    (default: docs/bench, docs/bandwidth.svg)
"""
import math
import os
import re
import sys

ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")
LOAD = re.compile(r"load (?:before|after): ([\d.]+)")
HEADER = re.compile(r"side by side \((\d+) alternating")
RANKS = re.compile(r"^(\d+) ranks,")


def side_by_side(path, ranks=None):
    """{size: (c_us, rust_us)} of the side-by-side table (for `ranks` ranks if given), and the
    number of pairs behind each median."""
    table, rounds, current, this_ranks = {}, None, False, None
    with open(path) as f:
        for line in f:
            m = RANKS.match(line)
            if m:
                this_ranks = int(m.group(1))
            h = HEADER.search(line)
            if h:
                current = ranks is None or this_ranks == ranks
                rounds = int(h.group(1)) if current else rounds
                continue
            r = ROW.match(line)
            if r and current:
                size, c, rust = int(r.group(1)), float(r.group(2)), float(r.group(3))
                table[size] = (c, rust)
    return table, rounds


def fmt_size(b):
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f"{b >> shift} {unit}"
    return f"{b} B"


def fmt_bw(v):
    return f"{v:g}" if v < 1e4 else f"{v / 1e3:g}k"


SERIES = [  # (label, MPI file suffix, variant index, colour, dashed)
    ("mpi4rs, Open MPI 4.1.4", "openmpi", 1, "#1f77b4", False),
    ("C, Open MPI 4.1.4", "openmpi", 0, "#1f77b4", True),
    ("mpi4rs, MPICH 4.0.2", "mpich", 1, "#d62728", False),
    ("C, MPICH 4.0.2", "mpich", 0, "#d62728", True),
]


def panel(out, x0, y0, w, h, title, data):
    """One log-log plot at (x0, y0) of size w × h; data: [(label, colour, dashed, [(size, MB/s)])]."""
    pts = [p for _, _, _, s in data for p in s]
    if not pts:
        return
    xs = [math.log10(p[0]) for p in pts]
    ys = [math.log10(p[1]) for p in pts]
    xlo, xhi = math.floor(min(xs)), math.ceil(max(xs))
    ylo, yhi = math.floor(min(ys)), math.ceil(max(ys))
    if yhi == ylo:
        yhi += 1
    ml, mb, mt = 58, 40, 26  # margins: left, bottom, top
    pw, ph = w - ml - 10, h - mb - mt
    X = lambda v: x0 + ml + (math.log10(v) - xlo) / (xhi - xlo) * pw
    Y = lambda v: y0 + mt + ph - (math.log10(v) - ylo) / (yhi - ylo) * ph
    out.append(f'<text x="{x0 + ml + pw / 2}" y="{y0 + 16}" text-anchor="middle" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{x0 + ml}" y="{y0 + mt}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    # x ticks at powers of 4 bytes (8 B ... 64 MiB), labelled at powers of 2^10 and the ends
    sizes = sorted({p[0] for p in pts})
    for s in sizes:
        x = X(s)
        out.append(f'<line x1="{x:.1f}" y1="{y0 + mt}" x2="{x:.1f}" y2="{y0 + mt + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{y0 + mt + ph + 14}" text-anchor="middle" font-size="9">{fmt_size(s)}</text>')
    for e in range(ylo, yhi + 1):
        y = Y(10 ** e)
        out.append(f'<line x1="{x0 + ml}" y1="{y:.1f}" x2="{x0 + ml + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 + ml - 4}" y="{y + 3:.1f}" text-anchor="end" font-size="10">{fmt_bw(10 ** e)}</text>')
    out.append(f'<text x="{x0 + ml + pw / 2}" y="{y0 + h - 6}" text-anchor="middle" font-size="11">message size</text>')
    out.append(f'<text transform="translate({x0 + 14},{y0 + mt + ph / 2}) rotate(-90)" text-anchor="middle" font-size="11">MB/s</text>')
    for label, colour, dashed, series in data:
        if not series:
            continue
        path = " ".join(f"{X(s):.1f},{Y(v):.1f}" for s, v in series)
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8"{dash}/>')
        for s, v in series:
            shape = "rect" if dashed else "circle"
            if shape == "circle":
                out.append(f'<circle cx="{X(s):.1f}" cy="{Y(v):.1f}" r="3" fill="{colour}"><title>{label}: {fmt_size(s)}, {v:.1f} MB/s</title></circle>')
            else:
                out.append(f'<rect x="{X(s) - 2.5:.1f}" y="{Y(v) - 2.5:.1f}" width="5" height="5" fill="white" stroke="{colour}"><title>{label}: {fmt_size(s)}, {v:.1f} MB/s</title></rect>')


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else "docs/bench"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/bandwidth.svg"
    panels = [("pingpong", "ping-pong, 2 ranks (one-way)", None), ("allreduce", "allreduce (sum, f64), 2 ranks", 2)]
    W, H = 900, 380
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
    ]
    notes, loads = [], []
    for i, (bench, title, ranks) in enumerate(panels):
        data = []
        for label, mpi, variant, colour, dashed in SERIES:
            path = os.path.join(results, f"{bench}-{mpi}.txt")
            if not os.path.exists(path):
                print(f"missing {path}: its lines are left out", file=sys.stderr)
                continue
            table, rounds = side_by_side(path, ranks)
            with open(path) as f:
                loads += [float(m.group(1)) for m in LOAD.finditer(f.read())]
            series = [(s, s / t[variant]) for s, t in sorted(table.items()) if t[variant] > 0]
            data.append((label, colour, dashed, series))
            if variant == 1:
                notes.append(str(rounds))
        panel(out, i * W / 2, 0, W / 2, H - 50, title, data)
    # legend
    for j, (label, _, variant, colour, dashed) in enumerate(SERIES):
        x, y = 70 + j * 205, H - 30
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 26}" y2="{y}" stroke="{colour}" stroke-width="1.8"{dash}/>')
        out.append(f'<text x="{x + 32}" y="{y + 4}">{label}</text>')
    out.append(
        f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="10" fill="#555">'
        f"medians of {'/'.join(sorted(set(notes)))} paired mpi4rs/C blocks per size (ci/bench-paired.sh)"
        + (f"; load average {min(loads):.0f}-{max(loads):.0f} on 2 cores" if loads else "")
        + "; one node (shared memory)</text>"
    )
    out.append("</svg>")
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
