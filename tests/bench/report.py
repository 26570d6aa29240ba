"""The report: a markdown table (figures per scenario and target, ratios
ours/peer and ours/limit) and the JSON with every figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.bench.runner import OURS, TARGET_LABELS

# (key, label, digits, lower is better / ratio makes sense)
METRICS = [
    ("added_ttft_ms_p50", "added TTFT p50 (ms)", 1),
    ("added_ttft_ms_p99", "added TTFT p99 (ms)", 1),
    ("completion_s_p50", "completion p50 (s)", 3),
    ("completion_s_p99", "completion p99 (s)", 3),
    ("cpu_s_per_1k_tokens", "server CPU s / 1k tokens", 3),
    ("peak_rss_mb", "peak RSS (MB)", 0),
    ("kb_per_open_stream", "memory / open stream (KB)", 0),
    ("errors", "errors", 0),
]


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def add_ratios(data: dict[str, Any]) -> None:
    """``data["ratios"][scenario][ours][metric] = {"peer": x, "limit": y}``."""
    by = {(r["target"], r["scenario"]): r for r in data["runs"]}
    out: dict[str, Any] = {}
    for sc in data["scenarios"]:
        name = sc["name"]
        for ours in OURS:
            mine = by.get((ours, name))
            if not mine or mine["skipped"]:
                continue
            peer = (by.get(("peer", name)) or {}).get("figures") or {}
            limit = (by.get(("limit", name)) or {}).get("figures") or {}
            for key, _, _ in METRICS:
                if key == "errors":
                    continue
                v = mine["figures"].get(key)
                out.setdefault(name, {}).setdefault(ours, {})[key] = {
                    "peer": ratio(v, peer.get(key)),
                    "limit": ratio(v, limit.get(key)),
                }
    data["ratios"] = out


def _f(v: Any, digits: int) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    targets = list(meta["targets"])
    ours = [t for t in OURS if t in targets]
    by = {(r["target"], r["scenario"]): r for r in data["runs"]}
    head = ["scenario", "figure", *(TARGET_LABELS[t] for t in targets)]
    head += [f"{t}/peer" for t in ours if "peer" in targets]
    head += [f"{t}/limit" for t in ours if "limit" in targets]
    lines = [
        f"Streaming benchmark, {meta['date']} (git {meta['git'] or '?'}), {meta['machine']}, "
        f"Python {meta['python']}, database {meta['database'] or '-'}; upstream first-token "
        f"delay {meta['first_token_delay_s'] * 1000:.0f} ms"
        + (
            f"; median of {meta['repeat']} runs per figure, targets in alternating order"
            if meta.get("repeat", 1) > 1
            else ""
        )
        + (" - QUICK MODE (smoke subset)" if meta["quick"] else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|",
    ]
    for sc in data["scenarios"]:
        name = sc["name"]
        up = sc["upstream"]
        title = f"{sc['concurrency']}x {up['tokens']} tok @ {up['interval'] * 1000:g} ms"
        if sc["sequential"] > 1:
            title += f", {sc['sequential']} in a row"
        if sc["rounds"] > 1:
            title += f", {sc['rounds']} rounds"
        first = True
        for key, label, digits in METRICS:
            cells = []
            for t in targets:
                r = by.get((t, name))
                if not r:
                    cells.append("")
                elif r["skipped"]:
                    cells.append("skipped")
                else:
                    cells.append(_f(r["figures"].get(key), digits))
            if all(c in ("-", "", "skipped") for c in cells):
                continue
            if key == "completion_s_p50":
                label += f" (ideal {data_ideal(by, targets, name)})"
            ratios = data.get("ratios", {}).get(name, {})
            rcells = []
            for ref in ("peer", "limit"):
                if ref not in targets:
                    continue
                for t in ours:
                    rv = ratios.get(t, {}).get(key, {}).get(ref)
                    rcells.append("" if key == "errors" else _f(rv, 2) + ("x" if rv else ""))
            row = [f"**{title}**" if first else "", label, *cells, *rcells]
            first = False
            lines.append("| " + " | ".join(row) + " |")
    for note in data.get("notes", []):
        lines += ["", f"Note: {note}"]
    lines += [
        "",
        "Added TTFT: first `text_delta` at the client minus the upstream's first-token delay. "
        "CPU: user+system seconds of the server process during the measured load, per 1,000 "
        "relayed tokens (limit column: n/a). Memory per open stream: (peak RSS - RSS after "
        "warm-up) / concurrent streams.",
    ]
    return "\n".join(lines) + "\n"


def data_ideal(by: dict, targets: list[str], name: str) -> str:
    for t in targets:
        r = by.get((t, name))
        if r and r["figures"].get("ideal_s") is not None:
            return f"{r['figures']['ideal_s']:.3f} s"
    return "?"


def write(data: dict[str, Any], out: Path) -> tuple[Path, Path]:
    add_ratios(data)
    out.mkdir(parents=True, exist_ok=True)
    stamp = data["meta"]["date"].replace(":", "").replace("-", "")[:15]
    tag = "quick" if data["meta"]["quick"] else "full"
    md = markdown(data)
    json_path = out / f"bench-{tag}-{stamp}.json"
    md_path = out / f"bench-{tag}-{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2))
    md_path.write_text(md)
    (out / "latest.json").write_text(json.dumps(data, indent=2))
    (out / "latest.md").write_text(md)
    return md_path, json_path
