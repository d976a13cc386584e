"""`dgm plot`: PNG files of a run's progress, lineage tree and scores by depth (matplotlib,
Agg backend, so no display is needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dgm.views.data import Snapshot, progress_curve, scores_by_depth  # noqa: E402
from dgm.views.layout import tree_layout  # noqa: E402

PROGRESS_FILE = "progress.png"
LINEAGE_FILE = "lineage.png"
DEPTH_FILE = "scores_by_depth.png"


def plot_all(snap: Snapshot, out_dir: Path, title: str) -> list[Path]:
    """Write the three figures into `out_dir` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        plot_progress(snap, out_dir / PROGRESS_FILE, title),
        plot_lineage(snap, out_dir / LINEAGE_FILE, title),
        plot_depth(snap, out_dir / DEPTH_FILE, title),
    ]


def plot_progress(snap: Snapshot, path: Path, title: str) -> Path:
    curve = progress_curve(snap)
    if snap.spend is None:
        dollars = "FM dollars spent on evaluations ($)"
    else:
        dollars = "FM dollars spent, all calls: solving, diagnosis, self-modification ($)"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, xs, label in (
        (axes[0], curve.evals, "task evaluations spent"),
        (axes[1], curve.dollars, dollars),
    ):
        ax.step(xs, curve.best, where="post", color="tab:green", lw=2, label="best node")
        ax.step(xs, curve.mean, where="post", color="tab:blue", lw=1.5, label="mean of nodes")
        if xs:  # name the lines at their ends, so no legend hunt is needed
            ax.annotate("best", (xs[-1], curve.best[-1]), color="tab:green", xytext=(4, 0),
                        textcoords="offset points", va="center")  # fmt: skip
            ax.annotate("mean", (xs[-1], curve.mean[-1]), color="tab:blue", xytext=(4, 0),
                        textcoords="offset points", va="center")  # fmt: skip
        ax.set_xlabel(label)
        ax.set_ylim(-0.02, 1.05)
        ax.grid(alpha=0.3)
    k = snap.min_trials()
    axes[0].set_ylabel(f"resolved rate (nodes with >= {k} results)")
    axes[0].set_title("Score vs evaluations")
    axes[1].set_title("Score vs dollars")
    if not curve.evals:
        axes[0].text(0.5, 0.5, "no evaluations yet", ha="center", transform=axes[0].transAxes)
    fig.suptitle(f"{title}: best (green) and mean (blue) node score")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_lineage(snap: Snapshot, path: Path, title: str) -> Path:
    pos = tree_layout(snap)
    best = snap.final_agent()
    best_path = set(snap.path_to(best)) if best is not None else set()
    width = min(40.0, max(8.0, len(pos) / 60))
    fig, ax = plt.subplots(figsize=(width, 7))
    edges, best_edges = [], []
    for row in snap.nodes.values():
        if row.parent is None or row.parent not in pos:
            continue
        seg = [pos[row.parent], pos[row.id]]
        (best_edges if row.id in best_path and row.parent in best_path else edges).append(seg)
    ax.add_collection(LineCollection(edges, colors="0.75", linewidths=0.6, zorder=1))
    ax.add_collection(LineCollection(best_edges, colors="crimson", linewidths=2.5, zorder=2))
    size = 30 if len(pos) < 300 else 6
    rows = [snap.nodes[i] for i in pos]
    scored = [r for r in rows if r.score is not None and r.status != "invalid"]
    unscored = [r for r in rows if r.score is None and r.status != "invalid"]
    invalid = [r for r in rows if r.status == "invalid"]
    sc = ax.scatter([pos[r.id][0] for r in scored], [pos[r.id][1] for r in scored],
                    c=[r.score for r in scored], cmap="viridis", vmin=0, vmax=1, s=size,
                    zorder=3, edgecolors="none")  # fmt: skip
    ax.scatter([pos[r.id][0] for r in unscored], [pos[r.id][1] for r in unscored], s=size,
               facecolors="white", edgecolors="0.5", zorder=3, label="not evaluated")  # fmt: skip
    ax.scatter([pos[r.id][0] for r in invalid], [pos[r.id][1] for r in invalid], s=size * 1.5,
               marker="x", color="red", zorder=3, label="invalid child")  # fmt: skip
    if best is not None:
        bx, by = pos[best]
        r = snap.nodes[best]
        ax.annotate(f"final agent: node {best} ({r.successes}/{r.trials})", (bx, by),
                    xytext=(6, 6), textcoords="offset points", color="crimson",
                    zorder=4)  # fmt: skip
    fig.colorbar(sc, ax=ax, label="node score (resolved rate)", fraction=0.03, pad=0.01)
    ax.invert_yaxis()  # the root on top
    ax.set_ylabel("depth (generations from the seed)")
    ax.set_xticks([])
    ax.autoscale()
    ax.legend(loc="lower left", fontsize="small", frameon=False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # depths are whole generations
    ax.set_title(f"{title}: lineage of {len(pos)} agents\nred line = path to the final agent, "
                 "x = invalid child, hollow = not evaluated")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def depth_bins(by_depth: dict[int, list[float]], most: int = 20) -> list[tuple[str, list[float]]]:
    """Scores grouped by depth, in at most `most` bins of equal depth width (a label each)."""
    if not by_depth:
        return []
    width = max(1, math.ceil((max(by_depth) + 1) / most))
    bins: dict[int, list[float]] = {}
    for depth, scores in by_depth.items():
        bins.setdefault(depth // width, []).extend(scores)
    out = []
    for b, scores in sorted(bins.items()):
        lo, hi = b * width, b * width + width - 1
        out.append((str(lo) if width == 1 else f"{lo}-{hi}", scores))
    return out


def plot_depth(snap: Snapshot, path: Path, title: str) -> Path:
    bins = depth_bins(scores_by_depth(snap))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    if bins:
        positions = list(range(len(bins)))
        ax.boxplot([b[1] for b in bins], positions=positions, widths=0.6, showfliers=False)
        xs = [p for p, b in zip(positions, bins, strict=True) for _ in b[1]]
        ys = [v for b in bins for v in b[1]]
        ax.scatter(xs, ys, s=8, alpha=0.2, color="tab:blue", zorder=0)  # the nodes themselves
        ax.set_xticks(positions, [f"{label}\nn={len(scores)}" for label, scores in bins])
    else:
        ax.text(0.5, 0.5, "no evaluated nodes yet", ha="center", transform=ax.transAxes)
    ax.set_xlabel("depth (generations from the seed); n = evaluated nodes at that depth")
    ax.set_ylabel("node score (resolved rate)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{title}: node scores by depth\n(box: quartiles, line: median)")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
