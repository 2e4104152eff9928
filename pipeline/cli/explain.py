"""`mixbuild explain SPEC NODE`: the preimage a node's last build stored, its preimage now, what differs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer

from .common import CacheOpt, JsonOpt, OutOpt, SpecArg, TargetOpt, app, fail, report_spec_error


@app.command()
def explain(spec: Path = SpecArg, node: str = typer.Argument(..., help="Node id, e.g. opening/stem/kick."),
            cache: Optional[Path] = CacheOpt, out: Optional[Path] = OutOpt, target: Optional[list[str]] = TargetOpt,
            as_json: bool = JsonOpt) -> None:
    """Show a node's key preimage from its last build (into --out) and what differs now."""
    from .. import api
    from ..specs import SpecError

    try:
        data = api.explain_node(spec, node, cache_dir=cache, targets=target, out_dir=out)
    except SpecError as err:
        report_spec_error(err, as_json)
    except KeyError:
        fail(f"explain: {spec} has no node {node!r} (mixbuild graph {spec} --format json lists them)", 2)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo("\n".join(explain_lines(data)))


def explain_lines(data: dict[str, Any]) -> list[str]:
    """The explanation as text: status and reasons, then each part of the stored preimage, marked where it changed."""
    lines = [f"{data['node']} ({data['stage']}): {data['status']}"
             + (f": {'; '.join(data['reasons'])}" if data["reasons"] else "")]
    last, now = data["last_build"], data["preimage_now"]
    if last is None or not isinstance(last.get("preimage"), dict):
        lines.append("  no record of an earlier build of this node in this cache (built into another --out?)")
        return lines + _preimage_lines(now, {}, now)
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["created"])) if last.get("created") else "?"
    lines.append(f"  last build: key {last['key']}, {built}, rendered in {last.get('seconds') or 0:.2f} s")
    lines.append(f"  now:        key {data['key_now'] or 'not known until ' + ', '.join(data['upstream']) + ' re-render'}")
    return lines + _preimage_lines(last["preimage"], last.get("refs") or {}, now)


def _preimage_lines(old: dict[str, Any], refs: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """`kind`, `code`, each param, each input and library of `old`, with `-> new` where `now` differs."""
    lines = []
    for part in ("kind", "code"):
        lines.append(f"  {part:8} {old.get(part)}{_arrow(old.get(part), now.get(part))}")
    old_params, now_params = _flatten(old.get("params", {})), _flatten(now["params"])
    for name, value in sorted(old_params.items()):
        lines.append(f"  param    {name} = {json.dumps(value)}{_arrow(value, now_params.get(name))}")
    for name in sorted(set(now_params) - set(old_params)):
        lines.append(f"  param    {name} (new) = {json.dumps(now_params[name])}")
    for name, digest in old.get("inputs", {}).items():
        lines.append(f"  input    {name} {refs.get(name, '')}: {digest}{_arrow(digest, now['inputs'].get(name))}")
    libs = old.get("libs", {})
    lines.append("  libs     " + ", ".join(f"{k} {v}{_arrow(v, now['libs'].get(k))}" for k, v in sorted(libs.items())))
    return lines


def _arrow(old: Any, new: Any) -> str:
    """`  -> new` when a part changed, `  -> (not known yet)` for an input that re-renders first."""
    if new is None and old is not None:
        return "  -> (not known yet)"
    return "" if old == new else f"  -> {json.dumps(new)}"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted names (`compressor.ratio`); lists stay whole."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}
