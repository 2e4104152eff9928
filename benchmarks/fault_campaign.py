"""Fault campaign: kill -9 builds and deliveries, race builds, corrupt the cache, fill the disk; print the figures.

    .venv/bin/python benchmarks/fault_campaign.py [--kills 20] [--album small|demo] [--seed 0]
        [--delivery-step 1] [--only crash races corruption disk delivery delivery-disk]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's pipeline, stages and testkit

from mixbuild.pipeline.cache import Cache  # noqa: E402
from testkit.cli import message_lines  # noqa: E402
from testkit.corrupt import DAMAGES, damage_object, garbage_action, nodes_hit  # noqa: E402
from testkit.crash import crash_campaign  # noqa: E402
from testkit.deliverykill import build_killed_at, folder_state, manifest_mismatches, two_versions  # noqa: E402
from testkit.diskfull import build_with_fsize_limit, remount, try_tmpfs, umount  # noqa: E402
from testkit.outdir import deliverables, temp_files  # noqa: E402
from testkit.proc import REPO, build, build_cmd, plan, race, report, verify  # noqa: E402
from testkit.project import Project, second_album  # noqa: E402


def races(project, work: Path) -> str:
    other = second_album(project)
    serial = {}
    for name, spec in (("a", project.path), ("b", other)):
        assert build(spec, work / f"serial-cache-{name}", work / f"serial-{name}", 1).returncode == 0
        serial[name] = deliverables(work / f"serial-{name}")
    runs = ok = 0
    same = race([build_cmd(project.path, work / "race1", work / f"r1-{i}", 1) for i in range(3)])
    runs += 3
    ok += sum(r.returncode == 0 and deliverables(work / f"r1-{i}") == serial["a"] for i, r in enumerate(same))
    mixed = race([build_cmd(project.path, work / "race2", work / "r2-a", 1), build_cmd(other, work / "race2", work / "r2-b", 1)])
    runs += 2
    ok += sum(r.returncode == 0 and deliverables(work / f"r2-{n}") == serial[n] for n, r in zip("ab", mixed))
    bad = len(verify(work / "race1")[1]) + len(verify(work / "race2")[1])
    return f"races: {runs} concurrent builds (3 same album, 2 albums sharing stems), {ok} identical to serial, {bad} bad cache entries"


def corruptions(project, work: Path, rounds: int, seed: int) -> str:
    rng = random.Random(seed)
    cache, out = project.root / "cache", work / "c-out"
    assert build(project.path, cache, out, 1).returncode == 0
    clean, nodes = deliverables(out), report(out)["nodes"]
    damaged_n = garbage_n = flagged = expected = rebuilds = bad_after = 0
    for _ in range(rounds):
        objects = sorted(p for p in (cache / "objects").rglob("*") if p.suffix in (".npy", ".json", ".blob"))
        victims = rng.sample(objects, 3)
        hit = nodes_hit(nodes, Cache(cache), {p.name.split(".")[0] for p in victims})
        for i, path in enumerate(victims):
            damage_object(path, DAMAGES[i], rng)
        actions = sorted((cache / "actions").rglob("*.json"))
        for path in rng.sample(actions, 2):
            garbage_action(path, rng)
            hit.add(next(n["id"] for n in nodes if n["key"] == path.stem))
        damaged_n += 3
        garbage_n += 2
        entries = plan(project.path, cache, out)
        expected += len(hit)
        flagged += sum(entries[h]["status"] == "render" for h in hit)
        proc = build(project.path, cache, out, 1)
        rebuilds += proc.returncode == 0 and deliverables(out) == clean
        bad_after += len(verify(cache)[1])
    return (f"corruption: {rounds} rounds, {damaged_n} objects damaged (flip/truncate/delete), {garbage_n} garbage "
            f"actions; plan flagged {flagged}/{expected} affected nodes; {rebuilds}/{rounds} rebuilds identical to "
            f"clean, {bad_after} bad cache entries after")


def disk_full(project, work: Path) -> str:
    cases = clean = 0
    notes = []
    mnt = work / "tmpfs"
    if try_tmpfs(mnt, "4m"):
        try:
            for where in ("cache", "out"):
                shutil.rmtree(work / "df-cache", ignore_errors=True)
                for p in mnt.iterdir():
                    shutil.rmtree(p)
                remount(mnt, "4m" if where == "cache" else "2m")
                cache = mnt / "cache" if where == "cache" else work / "df-cache"
                out = work / "df-out" if where == "cache" else mnt / "out"
                proc = build(project.path, cache, out, 2)
                err = message_lines(proc.stderr)  # progress lines aside
                one_line = proc.returncode != 0 and len(err) == 1 and str(mnt) in err[0] and "Traceback" not in proc.stderr
                sound = verify(cache)[0] == 0 and (not out.exists() or not temp_files(out))
                remount(mnt, "256m")
                recovered = build(project.path, cache, out, 2).returncode == 0
                cases += 1
                clean += one_line and sound and recovered
                notes.append(f"{where} full -> {err[-1] if err else '(no stderr)'}")
        finally:
            umount(mnt)
    proc = build_with_fsize_limit(project.path, work / "fz-cache", work / "fz-out", 200_000)
    err = message_lines(proc.stderr)
    sound = verify(work / "fz-cache")[0] == 0
    recovered = build(project.path, work / "fz-cache", work / "fz-out", 2).returncode == 0
    cases += 1
    clean += proc.returncode != 0 and len(err) == 1 and "Traceback" not in proc.stderr and sound and recovered
    notes.append(f"RLIMIT_FSIZE -> {err[-1] if err else '(no stderr)'}")
    return (f"disk full: {cases} cases, {clean} failed cleanly (one line naming the path, cache verify clean, "
            f"next build ok)\n  " + "\n  ".join(notes))


def delivery_kills(work: Path, step: int) -> str:
    """kill -9 at every `step`-th system call of a delivery that renames a song and changes every file."""
    project = Project(work / "proj")
    out, trial = work / "v1", work / "trial"
    v1, v2 = two_versions(project, out, work / "v2-ref")
    shutil.copytree(out, trial, symlinks=True)
    _, calls = build_killed_at(project.path, project.root / "cache", trial, 10**9)
    assert calls is not None and folder_state(trial / "streaming") == v2
    points = range(1, calls + 1, step)
    whole = old = finished = 0
    for nth in points:
        shutil.rmtree(trial)
        shutil.copytree(out, trial, symlinks=True)
        build_killed_at(project.path, project.root / "cache", trial, nth)
        seen = folder_state(trial / "streaming")
        whole += seen in (v1, v2) and manifest_mismatches(trial / "streaming") == []
        old += seen == v1
        again = build(project.path, project.root / "cache", trial, 1)
        finished += (again.returncode == 0 and folder_state(trial / "streaming") == v2
                     and len(list(trial.iterdir())) == 4 and not temp_files(trial))
    return (f"delivery kills: {len(points)} kill -9 points (every {step}. of the {calls} calls a delivery makes); "
            f"{whole} left the folder whole ({old} old, {whole - old} new) with a matching manifest; "
            f"{finished} finished by the next build, nothing left behind")


def delivery_disk_full(work: Path) -> str:
    """The out folder's disk fills while a changed album is delivered over the previous one."""
    mnt = work / "tmpfs"
    if not try_tmpfs(mnt, "5m"):
        return "delivery disk full: skipped (mount -t tmpfs not permitted here)"
    try:
        project = Project(work / "proj")
        cache, out = project.root / "cache", mnt / "out"
        assert build(project.path, cache, out, 1).returncode == 0
        v1 = folder_state(out / "streaming")
        project.spec["master"]["compressor"]["threshold_db"] = -21
        project.save()
        proc = build(project.path, cache, out, 1)
        err = message_lines(proc.stderr)
        kept = folder_state(out / "streaming") == v1 and manifest_mismatches(out / "streaming") == []
        remount(mnt, "64m")
        recovered = build(project.path, cache, out, 1).returncode == 0 and folder_state(out / "streaming") != v1
        return (f"delivery disk full: exit {proc.returncode}, {err[-1] if err else '(no stderr)'}; previous delivery "
                f"{'whole, manifest matching' if kept else 'DAMAGED'}; next build {'ok' if recovered else 'FAILED'}")
    finally:
        umount(mnt)


SECTIONS = ("crash", "races", "corruption", "disk", "delivery", "delivery-disk")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--album", choices=["small", "demo"], default="small")
    ap.add_argument("--corruption-rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--delivery-step", type=int, default=1, help="kill at every N-th call of a delivery")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="which parts to run")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    try:
        project = Project(work / "proj")
        if args.album == "demo":
            from mixbuild.pipeline.demo_stems import write_demo_stems
            write_demo_stems(REPO / "configs" / "demo" / "stems")
            spec = REPO / "configs" / "demo" / "album.yaml"
        else:
            spec = project.path
        problems = 0
        if "crash" in args.only:
            t0 = time.perf_counter()
            fig = crash_campaign(spec, work / "crash", args.kills, seed=args.seed,
                                 log=lambda m: print("  " + m, file=sys.stderr, flush=True))
            print(fig.line(), f"[{time.perf_counter() - t0:.0f} s]", flush=True)
            for problem in fig.problems:
                print("  PROBLEM:", problem)
            problems += len(fig.problems)
        sections = {
            "races": lambda: races(project, work / "races"),
            "corruption": lambda: corruptions(project, work / "corrupt", args.corruption_rounds, args.seed),
            "disk": lambda: disk_full(project, work / "disk"),
            "delivery": lambda: delivery_kills(work / "delivery", args.delivery_step),
            "delivery-disk": lambda: delivery_disk_full(work / "delivery-disk"),
        }
        for name, run in sections.items():
            if name in args.only:
                print(run(), flush=True)
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
