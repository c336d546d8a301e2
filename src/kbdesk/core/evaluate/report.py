"""The four-way evaluation as a one-page HTML report with a bar chart, and as plain text."""

from __future__ import annotations

import base64
import html
import io

from kbdesk.core.evaluate.fourway import ARM_LABELS, ARMS

METRICS = (
    ("score", "Overall score"),
    ("f1", "Answer F1"),
    ("key_facts", "Key facts"),
    ("right_page", "Right page cited"),
    ("unanswerable_declined", "Unanswerable declined"),
    ("false_declines", "False declines"),
)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def chart_png(result: dict) -> bytes:
    """Bars of the overall score per arm with their 95 % intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = result["arms"]
    values = [arms[a]["score"] or 0.0 for a in ARMS]
    low = [v - (arms[a]["score_interval"] or [v, v])[0] for a, v in zip(ARMS, values, strict=True)]
    high = [(arms[a]["score_interval"] or [v, v])[1] - v for a, v in zip(ARMS, values, strict=True)]
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    colors = ["#9aa5b1", "#2f6fb3", "#c98a2b", "#3c9a5f"]
    ax.bar([ARM_LABELS[a] for a in ARMS], values, yerr=[low, high], capsize=6, color=colors)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"{result['questions']} held-out questions, 95 % intervals")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def text_report(result: dict) -> str:
    arms = result["arms"]
    width = max(len(label) for _, label in METRICS)
    lines = [
        f"Four-way evaluation of adapter '{result['adapter']}' on {result['model']}: "
        f"{result['questions']} questions ({result['answerable']} answerable)",
        " " * (width + 2) + "".join(f"{ARM_LABELS[a]:>22}" for a in ARMS),
    ]
    for key, label in METRICS:
        lines.append(f"{label:<{width + 2}}" + "".join(f"{_fmt(arms[a][key]):>22}" for a in ARMS))
    intervals = [arms[a]["score_interval"] for a in ARMS]
    lines.append(
        f"{'95 % interval':<{width + 2}}"
        + "".join(f"{f'{i[0]:.2f}-{i[1]:.2f}' if i else '—':>22}" for i in intervals)
    )
    lines.append(
        f"{'Seconds per answer':<{width + 2}}"
        + "".join(f"{arms[a]['seconds_per_answer']:>22.1f}" for a in ARMS)
    )
    forgetting = result.get("forgetting") or {}
    if forgetting:
        lines.append(
            f"General questions right (forgetting check): model alone "
            f"{forgetting['base']['right']}/{forgetting['base']['of']}, with the adapter "
            f"{forgetting['adapter']['right']}/{forgetting['adapter']['of']}"
        )
    lines.append("")
    lines.append("Recommendation: " + result["recommendation"]["text"])
    return "\n".join(lines)


def html_report(result: dict, image_src: str | None = None) -> str:
    """The report page; the chart is embedded (one file to keep or send) unless `image_src`
    names where the viewer finds it (the window adds chart_png() as a resource)."""
    arms = result["arms"]
    if image_src is None:
        image_src = "data:image/png;base64," + base64.b64encode(chart_png(result)).decode("ascii")
    head = "".join(f"<th>{html.escape(ARM_LABELS[a])}</th>" for a in ARMS)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{_fmt(arms[a][key])}</td>" for a in ARMS)
        + "</tr>"
        for key, label in METRICS
    )
    rows += (
        "<tr><td>Seconds per answer</td>"
        + "".join(f"<td>{arms[a]['seconds_per_answer']:.1f}</td>" for a in ARMS)
        + "</tr>"
    )
    forgetting = result.get("forgetting") or {}
    forgot = (
        f"<p>General questions answered right without documents (did training make the model "
        f"forget?): model alone {forgetting['base']['right']} of {forgetting['base']['of']}, "
        f"with the adapter {forgetting['adapter']['right']} of {forgetting['adapter']['of']}.</p>"
        if forgetting
        else ""
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Evaluation of {html.escape(result["adapter"])}</title>
<style>
body {{ font-family: sans-serif; max-width: 760px; margin: 24px auto; color: #1d2530; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #d5dbe1; padding: 6px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.recommendation {{ background: #eef5ec; border-left: 4px solid #3c9a5f; padding: 10px 14px; }}
</style></head><body>
<h2>RAG, adapter or both? Adapter “{html.escape(result["adapter"])}”</h2>
<p>{result["questions"]} held-out questions ({result["answerable"]} answerable), answered four
ways by {html.escape(result["model"])} with the same settings (greedy decoding,
{result["settings"]["passages"]} passages).</p>
<img alt="Score per way of answering" src="{image_src}">
<table><tr><th></th>{head}</tr>{rows}</table>
{forgot}
<p class="recommendation"><b>Recommendation:</b> {html.escape(result["recommendation"]["text"])}</p>
</body></html>
"""
