#!/usr/bin/env python3
"""Benchmark of `troika status` and of the job ledger (see bench/README.md).

Prints figures and ratios and writes bench/STATUS-RESULTS.md; it never fails on a
missed target, it says so. Needs the test Slurm cluster (tests/services/slurm.sh up).

- status of N jobs (1,000) on the real Slurm in one call, against N `troika monitor`
  calls and against one bare `squeue` of the same jobs;
- the ledger's cost per submit (a dry run, which writes no ledger record, against a
  submission through a fake sbatch with and without the ledger);
- a lookup in a ledger of 500,000 records: `status` of a script whose `.jid` is gone.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_STATUS_VS_SQUEUE = 1.5
TARGET_LEDGER_MS = 0.3
TARGET_LOOKUP_MS = 5.0


def log(msg):
    print(f"[bench-status] {msg}", file=sys.stderr, flush=True)


def timed(argv, runs, env=None, cwd=None, prepare=None):
    """Median wall time of `argv` in ms over `runs` runs (after one warm-up)."""
    times = []
    for i in range(runs + 1):
        if prepare:
            prepare()
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = (time.perf_counter() - t0) * 1000
        if r.returncode != 0:
            raise SystemExit(f"{argv[:4]}... failed: {r.stderr.decode()[-500:]}")
        if i:
            times.append(dt)
    return statistics.median(times)


def timed_pair(argv_a, argv_b, runs, env=None, prepare_a=None, prepare_b=None):
    """Medians (ms) of two commands run alternately, so that drift of the
    machine weighs on both alike."""
    ta, tb = [], []
    for i in range(runs + 2):
        for argv, prep, acc in ((argv_a, prepare_a, ta), (argv_b, prepare_b, tb)):
            if prep:
                prep()
            t0 = time.perf_counter()
            r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            dt = (time.perf_counter() - t0) * 1000
            if r.returncode != 0:
                raise SystemExit(f"{argv[:4]}... failed: {r.stderr.decode()[-500:]}")
            if i >= 2:
                acc.append(dt)
    return statistics.median(ta), statistics.median(tb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--monitor-jobs", type=int, default=200,
                    help="monitor calls timed (the total for --jobs is extrapolated)")
    ap.add_argument("--ledger-records", type=int, default=500_000)
    ap.add_argument("--bin", default=os.path.join(REPO, "target/release/troika"))
    ap.add_argument("--ledger-only", action="store_true",
                    help="only the ledger's lookup, listing and rotation (no Slurm, no submit timing)")
    ap.add_argument("--bin-before", help="another troika to time `jobs --since` and `status --all` against")
    ap.add_argument("--dir", default=os.environ.get("TROIKA_BENCH_DIR", "/var/tmp/troika-bench") + "/status")
    a = ap.parse_args()
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(a.dir)
    rows = []

    def row(what, value, note=""):
        rows.append((what, value, note))
        log(f"{what}: {value} {note}")

    fake = os.path.join(a.dir, "bin")
    os.makedirs(fake)
    with open(os.path.join(fake, "sbatch"), "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\necho 'Submitted batch job 42'\n")
    os.chmod(os.path.join(fake, "sbatch"), 0o755)
    env = dict(os.environ, PATH=fake + ":" + os.environ["PATH"])
    src = os.path.join(a.dir, "ledger-job.src")
    with open(src, "w") as f:
        f.write("#!/bin/sh\n# troika name=x\necho hi\n")
    if not a.ledger_only:
        slurm_and_submit(a, rows, row, env, src)
    ledger_part(a, rows, row, env, src, fake)
    write_results(a, rows)


def slurm_and_submit(a, rows, row, env, src):
    # ---- status of N jobs on Slurm
    cfg = os.path.join(a.dir, "slurm.yml")
    with open(cfg, "w") as f:
        f.write(f"edition: 2026\nledger: {a.dir}/ledger-slurm\nsites:\n  slurm:\n    type: slurm\n    connection: local\n")
    log(f"submitting {a.jobs} held jobs to Slurm")
    ids = []
    for i in range(a.jobs):
        out = subprocess.run(["sbatch", "--parsable", "--hold", "-o", "/dev/null", "--wrap", "true"],
                             check=True, capture_output=True, text=True).stdout
        ids.append(out.strip().split(";")[0])
    try:
        scripts = []
        for i, jid in enumerate(ids):
            s = os.path.join(a.dir, f"job{i}.sh")
            with open(s, "w") as f:
                f.write("#!/bin/sh\n")
            with open(s + ".jid", "w") as f:
                f.write(jid + "\n")
            scripts.append(s)
        status = [a.bin, "-c", cfg, "status", "slurm"] + scripts
        r = subprocess.run(status + ["--json"], capture_output=True, text=True, check=True)
        states = {json.loads(l)["state"] for l in r.stdout.splitlines()}
        assert len(r.stdout.splitlines()) == a.jobs and states == {"HELD"}, states
        r = subprocess.run([a.bin, "-v", "-v", "-c", cfg, "status", "slurm"] + scripts,
                           capture_output=True, text=True, check=True)
        squeue_runs = sum(1 for l in r.stderr.splitlines() if "Executing 'squeue'" in l)
        squeue = ["squeue", "-h", "-t", "all", "-o", "%i|%T|%r", "-j", ",".join(ids)]
        t_status, t_squeue = timed_pair(status, squeue, a.runs)
        n = min(a.monitor_jobs, a.jobs)
        t0 = time.perf_counter()
        for s in scripts[:n]:
            subprocess.run([a.bin, "-c", cfg, "monitor", "slurm", s], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_monitor = (time.perf_counter() - t0) * 1000 * a.jobs / n
        row(f"status of {a.jobs} jobs, one call", f"{t_status:.0f} ms", f"({squeue_runs} squeue run)")
        row(f"one bare squeue of the {a.jobs} jobs", f"{t_squeue:.0f} ms")
        ratio = t_status / t_squeue
        row("status / bare squeue", f"{ratio:.2f}x",
            f"target <= {TARGET_STATUS_VS_SQUEUE}x: {'met' if ratio <= TARGET_STATUS_VS_SQUEUE and squeue_runs == 1 else 'MISSED'}")
        row(f"{a.jobs} monitor calls (edition 2026, {n} timed)", f"{t_monitor:.0f} ms",
            f"{t_monitor / t_status:.0f}x the one status call")
    finally:
        for i in range(0, len(ids), 500):
            subprocess.run(["scancel"] + ids[i:i + 500], check=False)

    # ---- the ledger's cost per submit
    argvs, preps = {}, {}
    for name, ledger in (("without", "false"), ("with", f"{a.dir}/ledger-submit")):
        c = os.path.join(a.dir, f"submit-{name}.yml")
        with open(c, "w") as f:
            f.write(f"ledger: {ledger}\nsites:\n  s:\n    type: slurm\n    connection: local\n")
        job = os.path.join(a.dir, f"submit-{name}.sh")
        argvs[name] = [a.bin, "-c", c, "submit", "s", job, "-o", "/tmp/x.out"]
        preps[name] = lambda job=job: shutil.copy(src, job)
    t_without, t_with = timed_pair(argvs["without"], argvs["with"], a.runs * 30, env=env,
                                   prepare_a=preps["without"], prepare_b=preps["with"])
    times = {"without": t_without, "with": t_with}
    cost = times["with"] - times["without"]
    row("submit without the ledger (fake sbatch)", f"{times['without']:.2f} ms")
    row("submit with the ledger (fake sbatch)", f"{times['with']:.2f} ms")
    row("the ledger's cost per submit", f"{cost:.3f} ms",
        f"target < {TARGET_LEDGER_MS} ms: {'met' if cost < TARGET_LEDGER_MS else 'MISSED'}")



def index_file(ldir, day, script):
    """The index file of `script` for `day`, as troika names it."""
    h = hashlib.sha256(script.encode()).hexdigest()
    return os.path.join(ldir, "index", day, h[:2], h[2:])


def ledger_part(a, rows, row, env, src, fake):
    # ---- a lookup in a ledger of 500,000 records
    ldir = os.path.join(a.dir, "ledger-big")
    c = os.path.join(a.dir, "big.yml")
    with open(c, "w") as f:
        f.write(f"ledger: {ldir}\nsites:\n  s:\n    type: slurm\n    connection: local\n")
    for name, body in (("squeue", "echo '42|RUNNING|None'"), ("sacct", "true")):
        with open(os.path.join(fake, name), "w") as f:
            f.write(f"#!/bin/sh\n{body}\n")
        os.chmod(os.path.join(fake, name), 0o755)
    log(f"filling a ledger with {a.ledger_records} records (5,000 scripts, 100 submissions each, "
        "over the last 5 days, with their index)")
    per_day = a.ledger_records // 5
    now = int(time.time())
    t = now - 5 * 86400
    step = 86400 / per_day
    os.makedirs(ldir)
    for day in range(5):
        lines = []
        index = {}
        for k in range(per_day):
            n = day * per_day + k
            rec = json.dumps({"time": int(t + n * step), "site": "s", "user": None,
                              "script": f"{a.dir}/suite/task{n % 5000}.sh", "digest": "0" * 64,
                              "job_id": str(100000 + n), "output": f"/scratch/out/task{n}.1"},
                             separators=(",", ":"))
            lines.append(rec)
            day_name = time.strftime("%Y-%m-%d", time.gmtime(int(t + n * step)))
            index.setdefault((day_name, f"{a.dir}/suite/task{n % 5000}.sh"), []).append(rec)
        by_day = {}
        for rec in lines:
            by_day.setdefault(time.strftime("%Y-%m-%d", time.gmtime(json.loads(rec)["time"])), []).append(rec)
        for day_name, recs in by_day.items():
            with open(os.path.join(ldir, day_name + ".jsonl"), "a") as f:
                f.write("\n".join(recs) + "\n")
        for (day_name, script), recs in index.items():
            p = index_file(ldir, day_name, script)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "a") as f:
                f.write("\n".join(recs) + "\n")
    # The last submission of one script, through troika (it writes the index).
    os.makedirs(os.path.join(a.dir, "suite"), exist_ok=True)
    probe = os.path.join(a.dir, "suite", "task7.sh")
    shutil.copy(src, probe)
    subprocess.run([a.bin, "-c", c, "submit", "s", probe, "-o", "/tmp/x.out"], env=env, check=True,
                   stderr=subprocess.DEVNULL)
    os.remove(probe + ".jid")
    with_jid = os.path.join(a.dir, "suite", "task8.sh")
    shutil.copy(src, with_jid)
    with open(with_jid + ".jid", "w") as f:
        f.write("42\n")
    t_ledger, t_jid = timed_pair([a.bin, "-c", c, "status", "s", probe],
                                 [a.bin, "-c", c, "status", "s", with_jid], a.runs * 30, env=env)
    lookup = t_ledger - t_jid
    row(f"status, job id from a ledger of {a.ledger_records} records", f"{t_ledger:.2f} ms")
    row("status, job id from the .jid file", f"{t_jid:.2f} ms")
    row("the lookup's cost", f"{lookup:.3f} ms",
        f"target < {TARGET_LOOKUP_MS} ms: {'met' if lookup < TARGET_LOOKUP_MS else 'MISSED'}")
    t_jobs = timed([a.bin, "-c", c, "jobs", "--since", "1970-01-01"], 3, env=env)
    row(f"troika jobs listing all {a.ledger_records} records", f"{t_jobs:.0f} ms")
    for name, binary in (("", a.bin), (" (before)", a.bin_before)):
        if not binary:
            continue
        t = timed([binary, "-c", c, "jobs", "--since", "1h"], 5, env=env)
        row(f"troika jobs --since 1h, ledger of {a.ledger_records} records over 5 days{name}", f"{t:.1f} ms")
        t = timed([binary, "-c", c, "status", "s", "--all"], 3, env=env)
        row(f"status --all, ledger of {a.ledger_records} records over 5 days{name}", f"{t:.0f} ms",
            "the last day (default window)" if not name else "the whole ledger")
    # Rotation: the first submission of a day, with a day to remove.
    kept = os.path.join(a.dir, "kept.yml")
    with open(kept, "w") as f:
        f.write(f"ledger: {ldir}\nledger_keep_days: 4\nsites:\n  s:\n    type: slurm\n    connection: local\n")
    today = os.path.join(ldir, time.strftime("%Y-%m-%d", time.gmtime()) + ".jsonl")
    days_before = len([n for n in os.listdir(ldir) if n.endswith(".jsonl")])
    files = sum(len(fs) for _, _, fs in os.walk(os.path.join(ldir, "index")))
    # Today's file aside: the submission is the first of its day, and prunes.
    os.rename(today, today + ".aside")
    shutil.copy(src, probe)
    t0 = time.perf_counter()
    subprocess.run([a.bin, "-c", kept, "submit", "s", probe, "-o", "/tmp/x.out"], env=env, check=True,
                   stderr=subprocess.DEVNULL)
    t_prune = (time.perf_counter() - t0) * 1000
    days_after = len([n for n in os.listdir(ldir) if n.endswith(".jsonl")])
    files_after = sum(len(fs) for _, _, fs in os.walk(os.path.join(ldir, "index")))
    row("a submission that prunes the ledger (ledger_keep_days: 4)", f"{t_prune:.1f} ms",
        f"day files {days_before} -> {days_after}, index files {files} -> {files_after}")


def write_results(a, rows):
    path = os.path.join(REPO, "bench", "STATUS-RESULTS.md")
    when = (f"`bench/status.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{platform.node()}, {os.cpu_count()} cores")
    table = "| measure | value | note |\n|---|---|---|\n" + "".join(
        f"| {what} | {value} | {note} |\n" for what, value, note in rows)
    if a.ledger_only:
        # Its own section: the figures of the whole run stay.
        head = "\n## The ledger alone (`--ledger-only`)\n\n"
        old = open(path).read() if os.path.exists(path) else "# troika status and the job ledger: benchmark results\n"
        old = old.split(head)[0].rstrip("\n") + "\n"
        before = f"; before: `{a.bin_before}`" if a.bin_before else ""
        with open(path, "w") as f:
            f.write(old + head + f"{when}{before}. Medians of 3 to {a.runs * 30} runs.\n\n" + table)
    else:
        with open(path, "w") as f:
            f.write("# troika status and the job ledger: benchmark results\n\n")
            f.write(f"{when}, the test Slurm cluster (`tests/services/slurm.sh up`). Medians of {a.runs}+ runs.\n\n")
            f.write(table)
    log("written bench/STATUS-RESULTS.md")


if __name__ == "__main__":
    main()
