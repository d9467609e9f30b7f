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
    ap.add_argument("--dir", default=os.environ.get("TROIKA_BENCH_DIR", "/var/tmp/troika-bench") + "/status")
    a = ap.parse_args()
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(a.dir)
    rows = []

    def row(what, value, note=""):
        rows.append((what, value, note))
        log(f"{what}: {value} {note}")

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
    fake = os.path.join(a.dir, "bin")
    os.makedirs(fake)
    with open(os.path.join(fake, "sbatch"), "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\necho 'Submitted batch job 42'\n")
    os.chmod(os.path.join(fake, "sbatch"), 0o755)
    env = dict(os.environ, PATH=fake + ":" + os.environ["PATH"])
    src = os.path.join(a.dir, "ledger-job.src")
    with open(src, "w") as f:
        f.write("#!/bin/sh\n# troika name=x\necho hi\n")
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

    # ---- a lookup in a ledger of 500,000 records
    ldir = os.path.join(a.dir, "ledger-big")
    c = os.path.join(a.dir, "big.yml")
    with open(c, "w") as f:
        f.write(f"ledger: {ldir}\nsites:\n  s:\n    type: slurm\n    connection: local\n")
    with open(os.path.join(fake, "squeue"), "w") as f:
        f.write("#!/bin/sh\necho '42|RUNNING|None'\n")
    os.chmod(os.path.join(fake, "squeue"), 0o755)
    log(f"filling a ledger with {a.ledger_records} records (5,000 scripts, 100 submissions each)")
    per_day = a.ledger_records // 5
    t = 1_796_000_000
    os.makedirs(ldir)
    for day in range(5):
        lines = []
        for k in range(per_day):
            n = day * per_day + k
            lines.append(json.dumps({"time": t + day * 86400 + k, "site": "s", "user": None,
                                     "script": f"{a.dir}/suite/task{n % 5000}.sh", "digest": "0" * 64,
                                     "job_id": str(100000 + n), "output": f"/scratch/out/task{n}.1"}))
        day_name = time.strftime("%Y-%m-%d", time.gmtime(t + day * 86400))
        with open(os.path.join(ldir, day_name + ".jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")
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

    with open(os.path.join(REPO, "bench", "STATUS-RESULTS.md"), "w") as f:
        f.write("# troika status and the job ledger: benchmark results\n\n")
        f.write(f"`bench/status.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"{platform.node()}, {os.cpu_count()} cores, the test Slurm cluster "
                f"(`tests/services/slurm.sh up`). Medians of {a.runs}+ runs.\n\n")
        f.write("| measure | value | note |\n|---|---|---|\n")
        for what, value, note in rows:
            f.write(f"| {what} | {value} | {note} |\n")
    log("written bench/STATUS-RESULTS.md")


if __name__ == "__main__":
    main()
