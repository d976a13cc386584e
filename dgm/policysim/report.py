"""Summaries of simulator results: numbers, a Rich table, a PNG of quality against budget.

Regret against the best node *in the tree*: how much better the policy's own best node was
than the agent it picked. Regret against the best node *reachable*: the best true rate any of
the compared policies found on the same seeded landscape (the landscape is unbounded, so
"reachable" is measured by what was reached under this budget).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from dgm.policysim.run import N_CHECKPOINTS, RunOutcome, SimConfig


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and the 95 % interval of the mean (normal approximation)."""
    mean = float(x.mean())
    half = 1.96 * float(x.std(ddof=1)) / np.sqrt(x.size) if x.size > 1 else 0.0
    return mean, mean - half, mean + half


def summarise(cfg: SimConfig, results: dict[str, list[RunOutcome]]) -> dict[str, Any]:
    """JSON-ready summary per policy, plus the curves (mean and band) for plotting."""
    reachable = np.max([[r.best_in_tree for r in runs] for runs in results.values()], axis=0)
    first = np.array([r.final_q for r in next(iter(results.values()))])
    policies = {}
    for name, runs in results.items():
        final = np.array([r.final_q for r in runs])
        # Paired over seeds (every policy meets the same landscapes): far tighter than
        # comparing two policies' own intervals.
        d_mean, d_low, d_high = _mean_ci(final - first)
        in_tree = np.array([r.best_in_tree for r in runs])
        curves = np.array([r.curve for r in runs])
        mean, low, high = _mean_ci(final)
        band = 1.96 * curves.std(axis=0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else 0
        policies[name] = {
            "final_true_rate": {"mean": mean, "ci95": [low, high]},
            "vs_first": {"mean": d_mean, "ci95": [d_low, d_high]},
            "regret_vs_tree": float((in_tree - final).mean()),
            "regret_vs_reachable": float((reachable - final).mean()),
            "best_in_tree": float(in_tree.mean()),
            "nodes": float(np.mean([r.nodes for r in runs])),
            "invalid_children": float(np.mean([r.invalid for r in runs])),
            # invalid / expansions, pooled over seeds (every node but the root is an expansion)
            "invalid_share": float(
                sum(r.invalid for r in runs) / max(1, sum(r.nodes - 1 for r in runs))
            ),
            "wall_seconds": float(sum(r.seconds for r in runs)),
            "curve": {
                "mean": curves.mean(axis=0).tolist(),
                "low": (curves.mean(axis=0) - band).tolist(),
                "high": (curves.mean(axis=0) + band).tolist(),
            },
        }
    return {
        "landscape": cfg.landscape,
        "budget": cfg.budget,
        "seeds": cfg.seeds,
        "first_seed": cfg.first_seed,
        "tasks": cfg.n_tasks,
        "expand_cost": cfg.expand_cost,
        "params": cfg.params,
        "budget_points": np.linspace(cfg.budget / N_CHECKPOINTS, cfg.budget, N_CHECKPOINTS)
        .round(2)
        .tolist(),
        "policies": policies,
    }


def table(summary: dict[str, Any]) -> Table:
    """The Rich table `dgm simulate` prints."""
    t = Table(
        title=f"{summary['landscape']} landscape · budget {summary['budget']} · "
        f"{summary['seeds']} seeds"
    )
    # Short headers (the legend explains them) so that eight columns fit 80 characters.
    cols = ("policy", "final", "95 % CI", "regret", "reach", "nodes", "invalid", "wall s")
    for col in cols:
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    best = max(p["final_true_rate"]["mean"] for p in summary["policies"].values())
    for name, p in summary["policies"].items():
        rate = p["final_true_rate"]
        mean = f"{rate['mean']:.3f}"
        t.add_row(
            name,
            f"[bold]{mean}[/bold]" if rate["mean"] == best else mean,
            f"{rate['ci95'][0]:.3f}-{rate['ci95'][1]:.3f}",
            f"{p['regret_vs_tree']:.3f}",
            f"{p['regret_vs_reachable']:.3f}",
            f"{p['nodes']:.1f}",
            f"{p['invalid_share']:.0%}",
            f"{p['wall_seconds']:.1f}",
        )
    return t


def paired_lines(summary: dict[str, Any]) -> list[str]:
    """Each policy's final true rate against the first one's, paired over the same seeds."""
    names = list(summary["policies"])
    lines = []
    for name in names[1:]:
        d = summary["policies"][name]["vs_first"]
        low, high = d["ci95"]
        lines.append(f"{name} - {names[0]}: {d['mean']:+.3f} (95 % CI {low:+.3f} to {high:+.3f})")
    return lines


def plot(summary: dict[str, Any], path: Path) -> None:
    """True quality of the final agent against budget spent, one curve and band per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = summary["budget_points"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, p in summary["policies"].items():
        c = p["curve"]
        (line,) = ax.plot(x, c["mean"], label=name)
        ax.fill_between(x, c["low"], c["high"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("budget spent (evaluation units)")
    ax.set_ylabel("true solve rate of the final agent")
    ax.set_title(f"{summary['landscape']} landscape, {summary['seeds']} seeds (95 % bands)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
