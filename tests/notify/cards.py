"""Reading an Adaptive Card as Teams shows it: a block's text (a TextBlock's, or a RichTextBlock's
TextRuns joined), a change's facts ('Label: value' RichTextBlocks), every string it holds."""

from __future__ import annotations


def text(block: dict) -> str:
    """A TextBlock's text, or a RichTextBlock's TextRuns joined."""
    if block.get("type") == "RichTextBlock":
        return "".join(run["text"] for run in block["inlines"])
    return block["text"]


def style(block: dict) -> dict:
    """A block's colour and weight, wherever they are set (the block, or its first TextRun)."""
    source = block["inlines"][0] if block.get("type") == "RichTextBlock" else block
    return {k: source[k] for k in ("color", "weight", "size", "isSubtle") if k in source}


def facts(box: dict) -> dict[str, str]:
    """A change's facts: its 'Label: value' lines (a bold label run, then the value run)."""
    out = {}
    for item in box["items"]:
        runs = item.get("inlines", [])
        if item["type"] == "RichTextBlock" and len(runs) == 2 and runs[0].get("weight") == "Bolder":
            out[runs[0]["text"].removesuffix(": ")] = runs[1]["text"]
    return out


def strings(node: object) -> list[str]:
    """Every string a card holds, as Teams reads it (JSON escapes decoded)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []
