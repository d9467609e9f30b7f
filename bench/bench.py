#!/usr/bin/env python3
"""Side-by-side benchmark of this troika against troika 0.2.7 (Python).

Run it through bench/run.sh, which installs what is missing (hyperfine, GNU
time, a virtual environment with troika 0.2.7), builds the release binary and
starts the local services. This file only measures and reports; it needs
nothing but Python's standard library.

Timings come from hyperfine (--export-json, medians). Peak memory comes from
GNU time (%M, the child's maximum resident set size), the largest of a few
runs. Every submit rewrites its script in place, so each timed run starts
from a fresh copy (hyperfine --prepare), for both programs alike.
"""

import argparse
import datetime
import json
import os
import platform
import pwd
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

MIB = 1024  # GNU time reports KiB

# Targets (issue "Performance: a side-by-side benchmark against troika 0.2.7").
TARGET_DRYRUN_SPEEDUP = 50.0
TARGET_DRYRUN_MS = 3.0
TARGET_SUBMIT_VS_SBATCH = 1.5
TARGET_RSS_KIB = 10 * MIB
TARGET_BIG_SECONDS = 1.0
TARGET_BIG_RSS_KIB = 30 * MIB
# Targets (issue "Performance: quadratic cost"): cost in proportion to the input.
TARGET_MANY_SITES_SECONDS = 5.0
TARGET_MANY_DIRECTIVES_SECONDS = 1.0

JOB_PREFIX = "trbench"


def log(msg):
    print(f"bench: {msg}", flush=True)


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


def out_of(argv):
    try:
        p = run(argv)
        return (p.stdout or p.stderr).strip()
    except OSError:
        return "n/a"


# --------------------------------------------------------------------------
# Inputs


def directives(name, workdir, hold):
    """30 directives a Slurm job of an operational suite could carry; every
    one is accepted by the local cluster (checked by the real submits). With
    `hold` the job is submitted held: it never runs."""
    return [
        f"# troika name={name}",
        "# troika walltime=00:05:00",
        "# troika partition=debug",
        "# troika total_nodes=1",
        "# troika total_tasks=1",
        "# troika tasks_per_node=1",
        "# troika cpus_per_task=1",
        "# troika memory_per_node=64M",
        "# troika export_vars=all",
        "# troika mail_type=none",
        "# troika mail_user=nobody@example.com",
        f"# troika working_dir={workdir}",
        "# troika distribution=block",
        "# troika enable_hyperthreading=no",
        "# troika exclusive=no",
        "# troika join_output_error=yes",
        "# troika output_file=/dev/null",
        "#SBATCH --comment=troika-benchmark",
        "#SBATCH --open-mode=truncate",
        "#SBATCH --nice=0",
        "#SBATCH --no-requeue",
        "#SBATCH --signal=B:USR1@30",
        "#SBATCH --kill-on-invalid-dep=yes",
        "#SBATCH --propagate=NONE",
        "#SBATCH --hold" if hold else "#SBATCH --delay-boot=0",
        "#SBATCH --begin=now",
        "#SBATCH --time-min=00:01:00",
        "#SBATCH --mincpus=1",
        "#SBATCH --wait-all-nodes=0",
        "#SBATCH --profile=none",
    ]


def script_text(name, lines=200, workdir="/tmp", hold=False):
    """A job script of `lines` lines: shebang, 30 directives, an ecFlow-like
    body that does nothing costly, and a last line that names the job. It
    exits at once."""
    head = ["#!/bin/bash"] + directives(name, workdir, hold)
    body = [
        "set -eu",
        "# ---- generated for the troika benchmark: an ecFlow-like job ----",
        "export ECF_HOST=localhost ECF_PORT=3141 ECF_TRYNO=1",
        f"export ECF_NAME=/bench/family/{name} ECF_PASS=benchpass",
        "ERROR() { echo \"error in ${ECF_NAME}\" >&2; exit 1; }",
        "trap ERROR ERR",
        "step() { STEP_NAME=$1; }",
    ]
    tail = [
        "trap - ERR",
        'echo "done ${SLURM_JOB_ID:-$$} ' + name + '"',
        "exit 0",
    ]
    i = 0
    while len(head) + len(body) + len(tail) < lines:
        if i % 10 == 0:
            body.append(f"# section {i // 10}: model step parameters")
        else:
            body.append(f'step "s{i:03d}"; PARAM_{i:03d}="value-{i:03d}-$STEP_NAME"')
        i += 1
    return "\n".join(head + body + tail) + "\n"


def site_entry(i):
    """One site of an operational configuration, in block style."""
    return (
        f"  hpc{i:02d}:\n"
        "    type: slurm\n"
        "    connection: ssh\n"
        f"    host: login{i}.hpc.example.int\n"
        "    user: opsuser\n"
        "    copy_script: true\n"
        "    copy_jid: true\n"
        "    sbatch_command: [sbatch, --parsable]\n"
        "    pre_submit: [create_output_dir]\n"
        "    directive_translate:\n"
        "      queue: '--qos=%s'\n"
        "      billing_account: '--account=%s'\n"
        "    ssh_options: [-oServerAliveInterval=30, -oConnectTimeout=20]\n"
        "    default_shebang: '#!/bin/bash'\n"
    )


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def write_big(path, size_mib, name, workdir):
    """A script of at least size_mib MiB: the usual header, then lines."""
    head = script_text(name, 40, workdir, hold=True).rsplit("exit 0\n", 1)[0]
    line = 'echo "processing step %08d of the forecast" >/dev/null\n'
    target = size_mib * 1024 * 1024
    with open(path, "w") as f:
        f.write(head)
        size = len(head)
        i = 0
        chunk = []
        while size < target:
            s = line % i
            chunk.append(s)
            size += len(s)
            i += 1
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
        f.write("exit 0\n")
    os.chmod(path, 0o755)


def write_many_sites(path, n):
    """A configuration of n one-line Slurm sites, site_0 to site_{n-1}."""
    with open(path, "w") as f:
        f.write("# Written by bench/bench.py\nsites:\n")
        for start in range(0, n, 10000):
            f.write("".join(f"  site_{i}: {{type: slurm, connection: local}}\n"
                            for i in range(start, min(n, start + 10000))))


def write_many_directives(path, n):
    """A script of n `# troika name_N=value` directives, which no site knows."""
    with open(path, "w") as f:
        f.write("#!/bin/bash\n")
        f.write("".join(f"# troika name_{i}=value\n" for i in range(n)))
        f.write("exit 0\n")
    os.chmod(path, 0o755)


# --------------------------------------------------------------------------
# Measurement


class Bench:
    def __init__(self, a):
        self.a = a
        self.ours = a.troika
        self.ref = a.ref
        self.work = a.work
        self.rows = []  # main table
        self.targets = []  # (target, measured, met)
        self.sections = []  # extra markdown sections
        self.raw = {}
        self.failures = []
        os.makedirs(self.work, exist_ok=True)
        self.jsondir = os.path.join(self.work, "json")
        os.makedirs(self.jsondir, exist_ok=True)
        # Slurm actions get -u as ecFlow passes it (ECF_JOB_CMD, ECF_STATUS_CMD, ECF_KILL_CMD).
        self.user = pwd.getpwuid(os.getuid()).pw_name

    # ---- helpers

    def hyperfine(self, key, argv, prepare=None, runs=20, warmup=2):
        """Median etc. of `argv` (run without a shell); None if it failed."""
        path = os.path.join(self.jsondir, f"{key}.json")
        cmd = ["hyperfine", "-N", "--style", "basic", "--runs", str(runs),
               "--warmup", str(warmup), "--export-json", path]
        if prepare:
            # With -N the prepare command is not given to a shell either.
            cmd += ["--prepare", shlex.join(["sh", "-c", prepare])]
        cmd += ["--", shlex.join(argv)]
        log(f"{key}: {shlex.join(argv)}")
        p = subprocess.run(cmd, stdout=sys.stdout, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            msg = p.stderr.strip().splitlines()[-3:] if p.stderr else []
            self.failures.append(f"{key}: hyperfine failed: {' / '.join(msg)}")
            log(f"{key}: FAILED: {p.stderr.strip()[-800:]}")
            return None
        with open(path) as f:
            r = json.load(f)["results"][0]
        times = r["times"]
        res = {
            "median": statistics.median(times),
            "mean": r["mean"],
            "stddev": r.get("stddev") or 0.0,
            "min": r["min"],
            "max": r["max"],
            "user": r["user"],
            "system": r["system"],
            "runs": len(times),
            "total": sum(times),
        }
        self.raw[key] = res
        return res

    def rounds(self, specs, runs, rounds):
        """hyperfine of each (key, argv, prepare) in turns, runs/rounds runs
        each time; the times are pooled."""
        per = max(1, runs // rounds)
        pooled = {}
        for r in range(rounds):
            for key, argv, prep in specs:
                x = self.hyperfine(f"{key}.round{r}", argv, prep, per, 3 if r == 0 else 1)
                if x is None:
                    pooled[key] = None
                elif pooled.get(key, {}) is not None:
                    pooled.setdefault(key, []).append(x)
        out = {}
        for key, parts in pooled.items():
            if not parts:
                continue
            times = []
            for r in range(len(parts)):
                with open(os.path.join(self.jsondir, f"{key}.round{r}.json")) as f:
                    times += json.load(f)["results"][0]["times"]
            runs_n = len(times)
            res = {
                "median": statistics.median(times),
                "mean": statistics.mean(times),
                "stddev": statistics.pstdev(times),
                "min": min(times),
                "max": max(times),
                "user": sum(p["user"] * p["runs"] for p in parts) / runs_n,
                "system": sum(p["system"] * p["runs"] for p in parts) / runs_n,
                "runs": runs_n,
                "total": sum(times),
            }
            self.raw[key] = res
            out[key] = res
        return out

    def rss(self, key, argv, prepare=None, n=5):
        """Peak RSS in KiB over n runs (GNU time %M); None if a run failed."""
        out = os.path.join(self.work, "time.out")
        peak = 0
        for _ in range(n):
            if prepare:
                subprocess.run(["sh", "-c", prepare], check=True)
            p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                self.failures.append(f"{key}: RSS run failed (exit {p.returncode}): {p.stderr.strip()[-300:]}")
                return None
            with open(out) as f:
                peak = max(peak, int(f.read().strip().splitlines()[-1]))
        self.raw[key + ".rss_kib"] = peak
        return peak

    def tooldir(self, case, tool):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", case).strip("-")
        d = os.path.join(self.work, "cases", slug, tool)
        os.makedirs(d, exist_ok=True)
        return d

    def add_row(self, case, ref=None, ours=None, base=None, base_name="", rss_ours=None, rss_ref=None, notes=""):
        self.rows.append(dict(case=case, ref=ref, ours=ours, base=base, base_name=base_name,
                              rss_ours=rss_ours, rss_ref=rss_ref, notes=notes))
        parts = [case]
        if ref:
            parts.append(f"0.2.7 {ms(ref['median'])}")
        if ours:
            parts.append(f"ours {ms(ours['median'])}")
        if ref and ours:
            parts.append(f"ratio {ratio(ref, ours)}")
        if base:
            parts.append(f"{base_name} {ms(base['median'])}")
        if rss_ours:
            parts.append(f"ours RSS {mib(rss_ours)}")
        log("RESULT " + ", ".join(parts))

    def target(self, what, measured, met):
        self.targets.append((what, measured, met))
        log(f"TARGET {'met' if met else 'MISSED'}: {what}: {measured}")

    # ---- set-up

    def setup(self):
        a = self.a
        w = self.work
        self.cfg = os.path.join(w, "troika.yml")
        self.out_dir = os.path.join(w, "out")
        os.makedirs(self.out_dir, exist_ok=True)
        self.ssh_out = os.path.join(w, "sshout")
        os.makedirs(self.ssh_out, exist_ok=True)
        os.chmod(self.ssh_out, 0o1777)  # the ssh jobs run as the remote user
        os.chmod(w, 0o755)
        ssh_site = ""
        if a.ssh_config:
            ssh_site = (
                "  ssh:\n"
                "    type: slurm\n"
                "    connection: ssh\n"
                f"    host: {a.ssh_host}\n"
                f"    ssh_options: [-F, {a.ssh_config}]\n"
                "  ssh-nomux:\n"
                "    type: slurm\n"
                "    connection: ssh\n"
                f"    host: {a.ssh_host}\n"
                f"    ssh_options: [-F, {a.ssh_config}]\n"
                "    ssh_multiplex: false\n"
            )
        write(self.cfg,
              "# Written by bench/bench.py (0.2.7 ignores `edition`)\n"
              "edition: 2026\n"
              "sites:\n"
              "  slurm: {type: slurm, connection: local}\n"
              "  direct: {type: direct, connection: local}\n" + ssh_site)
        # The same sites after 30 of an operational configuration (12 KiB):
        # every call reads the whole file.
        self.big_cfg = os.path.join(w, "troika-30-sites.yml")
        with open(self.cfg) as f:
            base = f.read()
        write(self.big_cfg, base + "".join(site_entry(i) for i in range(30)))
        self.src = os.path.join(w, "job.orig.src")
        # Timed submits are held: jobs running on the 2 cores would disturb
        # the timings that follow. The concurrent run's jobs do run.
        write(self.src, script_text(JOB_PREFIX, 200, "/tmp", hold=True), 0o755)
        n_lines = sum(1 for _ in open(self.src))
        n_dir = sum(1 for l in open(self.src) if l.startswith(("# troika ", "#SBATCH ")))
        log(f"generated {self.src}: {n_lines} lines, {n_dir} directives")
        n_gen = sum(1 for l in open(self.src) if l.startswith("# troika "))
        self.script_desc = f"{n_lines} lines, {n_dir} directives ({n_gen} `# troika`, {n_dir - n_gen} `#SBATCH`)"
        # The script as both programs generate it for Slurm; the bare sbatch
        # baseline submits exactly this.
        gen = {}
        for tool, exe in (("ref", self.ref), ("ours", self.ours)):
            d = self.tooldir("generate", tool)
            job = os.path.join(d, "job.sh")
            shutil.copy2(self.src, job)
            p = run([exe, "-c", self.cfg, "-n", "submit", "slurm", job, "-o", os.path.join(self.out_dir, "gen.out")])
            if p.returncode != 0:
                raise SystemExit(f"{tool} cannot generate the script: {p.stderr}")
            gen[tool] = open(job).read()
        self.same_script = gen["ref"] == gen["ours"]
        self.sbatch_script = os.path.join(w, "job.sbatch")
        write(self.sbatch_script, gen["ours"], 0o755)
        log("both programs generate the same script" if self.same_script
            else "WARNING: the generated scripts differ")

    def fresh(self, d, src=None):
        """The --prepare command: a fresh script, no files of an earlier run."""
        job = os.path.join(d, "job.sh")
        return (f"cp -p {shlex.quote(src or self.src)} {shlex.quote(job)} && "
                f"rm -f {shlex.quote(job)}.orig {shlex.quote(job)}.jid {shlex.quote(job)}.stat")

    # ---- cases

    def pair(self, case, args_fn, prepare_fn=None, runs=(30, 200), warmup=(3, 10), rss=True,
             base=None, base_name="", notes=""):
        """Times 0.2.7 and ours on the same command line (args_fn(dir)).
        runs and warmup: (0.2.7, ours)."""
        res = {}
        rss_v = {}
        for (tool, exe), n, wu in zip((("ref", self.ref), ("ours", self.ours)), runs, warmup):
            d = self.tooldir(case, tool)
            argv = [exe] + args_fn(d)
            prep = prepare_fn(d) if prepare_fn else None
            res[tool] = self.hyperfine(f"{case}.{tool}", argv, prep, n, wu)
            if rss and res[tool]:
                rss_v[tool] = self.rss(f"{case}.{tool}", argv, prep)
        self.add_row(case, res.get("ref"), res.get("ours"), base, base_name,
                     rss_v.get("ours"), rss_v.get("ref"), notes)
        return res, rss_v

    def case_startup(self):
        self.pair("--version", lambda d: ["--version"])
        self.pair("list-sites", lambda d: ["-c", self.cfg, "list-sites"])
        res, _ = self.pair(
            "dry-run submit (slurm)",
            lambda d: ["-c", self.cfg, "-n", "submit", "slurm", os.path.join(d, "job.sh"),
                       "-o", os.path.join(self.out_dir, "dry.out")],
            self.fresh, notes=f"script {self.script_desc}")
        self.pair(
            "dry-run submit, 34-site config",
            lambda d: ["-c", self.big_cfg, "-n", "submit", "slurm", os.path.join(d, "job.sh"),
                       "-o", os.path.join(self.out_dir, "dry.out")],
            self.fresh, notes=f"as above, the configuration has 30 more sites "
                              f"({os.path.getsize(self.big_cfg) // 1024} KiB)")
        if res.get("ref") and res.get("ours"):
            sp = res["ref"]["median"] / res["ours"]["median"]
            med = res["ours"]["median"] * 1000
            self.target(f"dry-run submit >= {TARGET_DRYRUN_SPEEDUP:.0f}x faster than 0.2.7",
                        f"{sp:.0f}x", sp >= TARGET_DRYRUN_SPEEDUP)
            self.target(f"dry-run submit median <= {TARGET_DRYRUN_MS:g} ms",
                        f"{med:.2f} ms", med <= TARGET_DRYRUN_MS)

    def case_direct(self):
        def submit(d):
            return ["-c", self.cfg, "submit", "direct", os.path.join(d, "job.sh"),
                    "-o", os.path.join(d, "job.out")]
        self.pair("direct submit (real)", submit, self.fresh,
                  notes="the job exits at once")
        # A running job (0.2.7 succeeds on an ended one, ours fails as `ps` does).
        live = subprocess.Popen(["sleep", "600"], start_new_session=True)

        def monitor(d):
            write(os.path.join(d, "job.sh.jid"), f"{live.pid}\n")
            return ["-c", self.cfg, "monitor", "direct", os.path.join(d, "job.sh")]
        ps = self.hyperfine("direct monitor.ps", ["ps", "-lyfp", str(live.pid)], None, 200, 10)
        try:
            self.pair("direct monitor", monitor, base=ps, base_name="bare ps -lyfp",
                      notes="`ps` of a running process")
        finally:
            live.kill()
            live.wait()

        def kill_prep(d):
            jid = shlex.quote(os.path.join(d, "job.sh.jid"))
            return f"setsid sleep 120 </dev/null >/dev/null 2>&1 & echo $! > {jid}"
        self.pair("direct kill", lambda d: ["-c", self.cfg, "kill", "direct", os.path.join(d, "job.sh")],
                  kill_prep, notes="SIGTERM to a live process started by --prepare "
                                   "(0.2.7 fails on a job that has already ended)")

    def case_slurm(self):
        n = self.a.slurm_runs
        case = "slurm submit (real)"

        def submit(tool):
            d = self.tooldir(case, tool)
            return ["-c", self.cfg, "submit", "-u", self.user, "slurm", os.path.join(d, "job.sh"),
                    "-o", os.path.join(self.out_dir, "slurm.out")], self.fresh(d)
        (ra, rp), (oa, op) = submit("ref"), submit("ours")
        # The three in turns, a third of the runs at a time: a change of load
        # on the machine falls on all of them alike.
        res = self.rounds([
            ("slurm submit.sbatch", ["sbatch", self.sbatch_script], None),
            (f"{case}.ref", [self.ref] + ra, rp),
            (f"{case}.ours", [self.ours] + oa, op),
        ], n, 3)
        base, ref, ours = (res.get(k) for k in ("slurm submit.sbatch", f"{case}.ref", f"{case}.ours"))
        rss_base = self.rss("slurm submit.sbatch", ["sbatch", self.sbatch_script], None, 3) if base else None
        rss_ref = self.rss(f"{case}.ref", [self.ref] + ra, rp) if ref else None
        rss_ours = self.rss(f"{case}.ours", [self.ours] + oa, op) if ours else None
        self.add_row(case, ref, ours, base, "bare sbatch", rss_ours, rss_ref,
                     "jobs submitted held (`#SBATCH --hold`); bare `sbatch` of the generated script as the "
                     "baseline" + (f" (sbatch peak RSS {mib(rss_base)})" if rss_base else "")
                     + "; the three measured in turns, 3 rounds")
        res = {"ours": ours}
        if base and res.get("ours"):
            r = res["ours"]["median"] / base["median"]
            self.target(f"real Slurm submit <= {TARGET_SUBMIT_VS_SBATCH:g}x bare sbatch",
                        f"{r:.2f}x ({ms(res['ours']['median'])} vs {ms(base['median'])})",
                        r <= TARGET_SUBMIT_VS_SBATCH)
        # monitor of the job submitted last (by each program)
        jid = None
        for tool in ("ours", "ref"):
            try:
                jid = open(os.path.join(self.tooldir("slurm submit (real)", tool), "job.sh.jid")).read().strip()
            except OSError:
                pass
        mon_base = self.hyperfine("slurm monitor.squeue", ["squeue", "-j", jid], None, n, 3) if jid else None

        def monitor(d):
            src = os.path.join(self.tooldir("slurm submit (real)", os.path.basename(d)), "job.sh.jid")
            shutil.copy(src, os.path.join(d, "job.sh.jid"))
            return ["-c", self.cfg, "monitor", "-u", self.user, "slurm", os.path.join(d, "job.sh")]
        self.pair("slurm monitor (real)", monitor, runs=(n, n), warmup=(3, 3),
                  base=mon_base, base_name="bare squeue -j", notes="`squeue` of the last submitted job (held)")

        def kill_prep(d):
            jid = shlex.quote(os.path.join(d, "job.sh.jid"))
            return f"sbatch --parsable {shlex.quote(self.sbatch_script)} > {jid}"
        self.pair("slurm kill (real)",
                  lambda d: ["-c", self.cfg, "kill", "-u", self.user, "slurm", os.path.join(d, "job.sh")],
                  kill_prep, runs=(n, n), warmup=(3, 3),
                  notes="`scancel` of a held job submitted by --prepare")
        cancel_bench_jobs()

    def case_ssh(self):
        if not self.a.ssh_config:
            self.sections.append("### ssh\n\nNot measured: no sshd (tests/services/sshd.sh up failed).\n")
            return
        n = self.a.ssh_runs
        user = self.a.ssh_user
        res = {}
        rss = {}
        for key, exe, site in (("ref", self.ref, "ssh"), ("ours-mux", self.ours, "ssh"),
                               ("ours-nomux", self.ours, "ssh-nomux")):
            d = self.tooldir("ssh", key)
            if key == "ours-mux":
                self.ssh_master_exit()
            argv = [exe, "-c", self.cfg, "submit", "-u", user, site, os.path.join(d, "job.sh"),
                    "-o", os.path.join(self.ssh_out, f"{key}.out")]
            # No warm-up: 50 submits in a row, the first one opens the master.
            res[key] = self.hyperfine(f"ssh submit.{key}", argv, self.fresh(d), n, 0)
            if res[key]:
                rss[key] = self.rss(f"ssh submit.{key}", argv, self.fresh(d), 3)
        note = (f"{n} submits in a row to `sbatch` on {self.a.ssh_host} as {user} (held jobs); "
                "total {tot}; first submit opens the connection")
        for key, label in (("ours-mux", "ssh submit, multiplexed"), ("ours-nomux", "ssh submit, not multiplexed")):
            r, o = res.get("ref"), res.get(key)
            tot = ", ".join(f"{t} {x['total']:.2f} s" for t, x in (("0.2.7", r), ("ours", o)) if x)
            self.add_row(label + f" (x{n})", r, o, rss_ours=rss.get(key), rss_ref=rss.get("ref"),
                         notes=note.format(tot=tot))
        self.ssh_master_exit()
        cancel_bench_jobs()

    def ssh_master_exit(self):
        uid = os.getuid()
        dirs = []
        if os.environ.get("XDG_RUNTIME_DIR"):
            dirs.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "troika"))
        dirs.append(f"/tmp/troika-{uid}")
        for d in dirs:
            if os.path.isdir(d):
                run(["ssh", "-F", self.a.ssh_config, "-o", f"ControlPath={d}/%C", "-O", "exit",
                     f"{self.a.ssh_user}@{self.a.ssh_host}"])

    def case_big(self):
        size = self.a.big_mib
        src = os.path.join(self.work, "big.orig.src")
        log(f"writing a {size} MiB script")
        write_big(src, size, JOB_PREFIX, "/tmp")
        res = {}
        rss = {}
        for tool, exe, runs in (("ours", self.ours, 5), ("ref", self.ref, 3)):
            d = self.tooldir("big", tool)
            argv = [exe, "-c", self.cfg, "-n", "submit", "slurm", os.path.join(d, "job.sh"),
                    "-o", os.path.join(self.out_dir, "big.out")]
            prep = self.fresh(d, src)
            # 0.2.7 is tried once first: only measured when it ends in reasonable time.
            if tool == "ref" and not self.finishes(argv, prep, self.a.big_ref_timeout):
                self.sections.append(
                    f"### {size} MiB script, 0.2.7\n\nNot measured: one run took more than "
                    f"{self.a.big_ref_timeout} s.\n")
                continue
            res[tool] = self.hyperfine(f"big.{tool}", argv, prep, runs, 0)
            if res[tool]:
                rss[tool] = self.rss(f"big.{tool}", argv, prep, 2)
        self.add_row(f"dry-run submit, {size} MiB script", res.get("ref"), res.get("ours"),
                     rss_ours=rss.get("ours"), rss_ref=rss.get("ref"),
                     notes="the script is read, translated and rewritten in place")
        o = res.get("ours")
        if o and rss.get("ours") is not None:
            self.target(f"{size} MiB script in < {TARGET_BIG_SECONDS:g} s with RSS < {TARGET_BIG_RSS_KIB // MIB} MiB",
                        f"{o['median']:.3f} s, {mib(rss['ours'])}",
                        o["median"] < TARGET_BIG_SECONDS and rss["ours"] < TARGET_BIG_RSS_KIB)
        for tool in ("ours", "ref"):
            shutil.rmtree(self.tooldir("big", tool), ignore_errors=True)
        os.unlink(src)

    def case_scale(self):
        """Large inputs: a configuration of many sites, a script of many directives."""
        n_sites, n_dirs = self.a.scale_sites, self.a.scale_directives
        sites = os.path.join(self.work, "many-sites.yml")
        write_many_sites(sites, n_sites)
        cfg = os.path.join(self.work, "scale.yml")
        write(cfg, "sites:\n"
                   "  slurm: {type: slurm, connection: local}\n"
                   "  slurm-ignore: {type: slurm, connection: local, unknown_directive: ignore}\n")
        src = os.path.join(self.work, "many-directives.orig.src")
        write_many_directives(src, n_dirs)
        size = f"{os.path.getsize(sites) / 1e6:.1f} MB"
        cases = [
            (f"list-sites, {n_sites} sites", TARGET_MANY_SITES_SECONDS, None,
             lambda d: ["-c", sites, "list-sites"], f"configuration of {size}, one line a site"),
            (f"dry-run submit, {n_sites} sites", TARGET_MANY_SITES_SECONDS, self.fresh,
             lambda d: ["-c", sites, "-n", "submit", f"site_{n_sites - 1}", os.path.join(d, "job.sh"),
                        "-o", os.path.join(self.out_dir, "scale.out")], "to the last site, the usual script"),
        ]
        for site, policy in (("slurm", "warn (a warning each)"), ("slurm-ignore", "ignore")):
            cases.append((f"dry-run submit, {n_dirs} directives, {policy.split()[0]}",
                          TARGET_MANY_DIRECTIVES_SECONDS, lambda d: self.fresh(d, src),
                          lambda d, site=site: ["-c", cfg, "-n", "submit", site, os.path.join(d, "job.sh"),
                                                "-o", os.path.join(self.out_dir, "scale.out")],
                          f"unknown directives: {policy}"))
        for case, target, prep_fn, args_fn, notes in cases:
            res = {}
            for tool, exe, runs in (("ours", self.ours, 5), ("ref", self.ref, 3)):
                d = self.tooldir(case, tool)
                argv = [exe] + args_fn(d)
                prep = prep_fn(d) if prep_fn else None
                if tool == "ref" and not self.finishes(argv, prep, self.a.scale_ref_timeout):
                    notes += f"; 0.2.7 not measured: one run took more than {self.a.scale_ref_timeout} s"
                    continue
                res[tool] = self.hyperfine(f"{case}.{tool}", argv, prep, runs, 1 if tool == "ours" else 0)
            self.add_row(case, res.get("ref"), res.get("ours"), notes=notes)
            o = res.get("ours")
            if o:
                self.target(f"{case} in < {target:g} s", f"{o['median']:.3f} s", o["median"] < target)
        for path in (sites, src):
            os.unlink(path)

    def finishes(self, argv, prepare, timeout):
        """Whether one run of argv (after prepare) ends within timeout seconds."""
        if prepare:
            subprocess.run(["sh", "-c", prepare], check=True)
        t0 = time.monotonic()
        try:
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        log(f"one run took {time.monotonic() - t0:.1f} s: {shlex.join(argv)}")
        return True

    # ---- concurrent submits

    def case_concurrent(self):
        results = {}
        tools = [("ours", self.ours)]
        if self.a.concurrent_ref:
            tools.append(("ref", self.ref))
        self.load_before_concurrent = loadavg()
        for tool, exe in tools:
            wait_queue_empty(self.a.queue_wait)
            results[tool] = self.concurrent(tool, exe)
        o = results.get("ours")
        if o:
            bad = o["failed"] + o["missing"] + o["corrupt"] + o["duplicate"] + o["unknown"] + o["mismatch"]
            self.target(f"0 lost or corrupt .jid in {o['n']} concurrent submits ({self.a.parallel} at a time), "
                        "every job ran",
                        f"{bad} bad .jid, {o['ran']}/{o['n']} jobs ran",
                        bad == 0 and o["ran"] == o["n"])
        lines = ["### Concurrent submits to the real Slurm cluster", "",
                 f"{self.a.concurrent} submits, {self.a.parallel} at a time (`xargs -P {self.a.parallel}`), "
                 "each with its own script (job name `trbench-cNNNN`) and output file. Checks: every "
                 "`.jid` exists, holds one job id, is unique, names a job Slurm knows "
                 "(`squeue -t all`) with the script's job name, and every job ran (its output "
                 "file holds its own job id).", "",
                 "| program | wall time | submits/s | failed | missing .jid | corrupt | duplicate | unknown to Slurm | wrong job | jobs ran | all ran after |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for tool, r in results.items():
            lines.append(
                f"| {'0.2.7' if tool == 'ref' else 'ours'} | {r['wall']:.1f} s | {r['rate']:.1f} | {r['failed']} | "
                f"{r['missing']} | {r['corrupt']} | {r['duplicate']} | {r['unknown']} | {r['mismatch']} | "
                f"{r['ran']}/{r['n']} | {r['ran_after']} |")
        if "ours" in results and "ref" in results:
            lines += ["", f"Throughput ratio ours / 0.2.7: {results['ours']['rate'] / results['ref']['rate']:.1f}x."]
        self.sections.append("\n".join(lines) + "\n")

    def concurrent(self, tool, exe):
        n = self.a.concurrent
        d = os.path.join(self.work, "concurrent", tool)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "out"))
        names = {}
        for i in range(n):
            name = f"{JOB_PREFIX}-c{i:04d}"
            names[i] = name
            write(os.path.join(d, f"job{i:04d}.sh"), script_text(name, 200, "/tmp"), 0o755)
        log(f"concurrent ({tool}): {n} submits, {self.a.parallel} at a time")
        ids = "".join(f"{i:04d}\n" for i in range(n))
        cmd = ["xargs", "-P", str(self.a.parallel), "-I", "{}", exe, "-q", "-c", self.cfg, "submit", "slurm",
               os.path.join(d, "job{}.sh"), "-o", os.path.join(d, "out", "job{}.out")]
        t0 = time.monotonic()
        p = subprocess.run(cmd, input=ids, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.monotonic() - t0
        failed_lines = [l for l in p.stderr.splitlines() if "CRITICAL" in l or "ERROR" in l]
        log(f"concurrent ({tool}): {wall:.1f} s, xargs exit {p.returncode}, {len(failed_lines)} error lines")
        # .jid files
        jids = {}
        missing = corrupt = 0
        for i in range(n):
            try:
                text = open(os.path.join(d, f"job{i:04d}.sh.jid")).read()
            except OSError:
                missing += 1
                continue
            if not re.fullmatch(r"[0-9]+\n", text):
                corrupt += 1
                continue
            jids[i] = text.strip()
        counts = {}
        for j in jids.values():
            counts[j] = counts.get(j, 0) + 1
        duplicate = sum(1 for i, j in jids.items() if counts[j] > 1)
        # Slurm's view: id -> name, for all states (finished jobs stay for MinJobAge)
        q = run(["squeue", "-t", "all", "-h", "-o", "%i|%j"])
        known = dict(l.split("|", 1) for l in q.stdout.splitlines() if "|" in l)
        unknown = sum(1 for j in jids.values() if j not in known)
        mismatch = sum(1 for i, j in jids.items() if j in known and known[j] != names[i])
        # wait for every job to run: its output holds its own id
        deadline = time.monotonic() + self.a.run_deadline
        ran = set()
        while True:
            for i, j in jids.items():
                if i in ran:
                    continue
                try:
                    if open(os.path.join(d, "out", f"job{i:04d}.out")).read().startswith(f"done {j} "):
                        ran.add(i)
                except OSError:
                    pass
            if len(ran) == len(jids) or time.monotonic() > deadline:
                break
            time.sleep(2)
        ran_after = time.monotonic() - t0
        r = dict(n=n, wall=wall, rate=n / wall, failed=len(failed_lines) if p.returncode else 0,
                 missing=missing, corrupt=corrupt, duplicate=duplicate, unknown=unknown,
                 mismatch=mismatch, ran=len(ran),
                 ran_after=(f"{ran_after:.0f} s" if len(ran) == n else f"not all after {ran_after:.0f} s"))
        self.raw[f"concurrent.{tool}"] = r
        log(f"concurrent ({tool}): {r}")
        if p.returncode:
            self.failures.append(f"concurrent ({tool}): xargs exit {p.returncode}: " + " / ".join(failed_lines[:3]))
        shutil.rmtree(d, ignore_errors=True)
        return r

    # ---- report

    def report(self, info, started, finished):
        t = []
        t.append("# Benchmark: troika (Rust) against troika 0.2.7\n")
        t.append(f"Generated by `bench/run.sh` on {started} (finished {finished}). "
                 "Medians of hyperfine runs; ratio = 0.2.7 median / ours median (higher is better "
                 "for ours); RSS = peak resident set size (GNU time `%M`, largest of a few runs; it covers the "
                 "commands troika runs too, e.g. `sbatch` or `ssh`).\n")
        t.append("| case | 0.2.7 median | ours median | ratio | baseline median | ours peak RSS | 0.2.7 peak RSS | notes |")
        t.append("|---|---|---|---|---|---|---|---|")
        for r in self.rows:
            cpu = ""
            if r["ours"] and r["ref"]:
                cpu = (f"CPU/call (user+sys, mean): 0.2.7 {ms(r['ref']['user'] + r['ref']['system'])}, "
                       f"ours {ms(r['ours']['user'] + r['ours']['system'])}")
            elif r["ours"]:
                cpu = f"CPU/call ours {ms(r['ours']['user'] + r['ours']['system'])}"
            runs = "/".join(str(x["runs"]) for x in (r["ref"], r["ours"]) if x)
            notes = "; ".join(x for x in (r["notes"], cpu, f"runs {runs}" if runs else "") if x)
            base = f"{ms(r['base']['median'])} ({r['base_name']})" if r["base"] else ""
            t.append(f"| {r['case']} | {ms(r['ref']['median']) if r['ref'] else 'n/a'} | "
                     f"{ms(r['ours']['median']) if r['ours'] else 'n/a'} | "
                     f"{ratio(r['ref'], r['ours']) if r['ref'] and r['ours'] else ''} | {base} | "
                     f"{mib(r['rss_ours']) if r['rss_ours'] else ''} | {mib(r['rss_ref']) if r['rss_ref'] else ''} | "
                     f"{notes} |")
        t.append("")
        rss_all = [r["rss_ours"] for r in self.rows if r["rss_ours"] and "MiB script" not in r["case"]]
        if rss_all:
            peak = max(rss_all)
            self.target(f"peak RSS <= {TARGET_RSS_KIB // MIB} MiB on normal scripts (all cases above)",
                        mib(peak), peak <= TARGET_RSS_KIB)
        t.append("## Targets\n")
        t.append("| target | measured | met |")
        t.append("|---|---|---|")
        for what, measured, met in self.targets:
            t.append(f"| {what} | {measured} | {'yes' if met else '**no**'} |")
        t.append("")
        for s in self.sections:
            t.append(s)
        if self.failures:
            t.append("### Failures\n")
            t += [f"- {f}" for f in self.failures]
            t.append("")
        t.append("## Machine\n")
        for k, v in info.items():
            t.append(f"- {k}: {v}")
        t.append("")
        t.append("## Method\n")
        t.append(
            f"- Generated script: {self.script_desc}, accepted by the local Slurm cluster; "
            f"both programs generate {'the same' if self.same_script else 'DIFFERENT'} Slurm script from it. "
            "Before each timed run the script is restored from a copy and `.orig`/`.jid`/`.stat` are "
            "removed (hyperfine `--prepare`), for both programs.\n"
            "- Programs are run without a shell (hyperfine `-N`); their output is discarded. 0.2.7 is "
            "installed with `pip install troika==0.2.7` in a virtual environment.\n"
            "- Slurm: a single-node cluster on this machine (`tests/services/slurm.sh`). The timed submits "
            "(Slurm and ssh) use the script with `#SBATCH --hold`: their jobs never run, so they do not load "
            "the machine, and are cancelled after each group. The concurrent run's jobs do run; before it the "
            "benchmark waits for the queue to be free of its jobs.\n"
            "- ssh: OpenSSH to 127.0.0.1 (`tests/services/sshd.sh`) as a user without slow shell start-up; "
            "each submit runs `sbatch` remotely. Before the multiplexed series any master is closed, "
            "so the first submit pays for the connection.\n"
            f"- Raw hyperfine JSON: `{self.jsondir}`.\n")
        return "\n".join(t) + "\n"


def ms(s):
    if s is None:
        return "n/a"
    v = s * 1000
    if v >= 1000:
        return f"{s:.2f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def mib(kib):
    return f"{kib / MIB:.1f} MiB"


def ratio(ref, ours):
    return f"{ref['median'] / ours['median']:.1f}x"


def bench_jobs():
    """(id, name) of the benchmark's jobs Slurm still has queued or running."""
    p = run(["squeue", "-h", "-o", "%i|%j"])
    if p.returncode != 0:
        return []
    return [tuple(l.split("|", 1)) for l in p.stdout.splitlines()
            if "|" in l and l.split("|", 1)[1].startswith(JOB_PREFIX)]


def cancel_bench_jobs():
    jobs = bench_jobs()
    if jobs:
        run(["scancel"] + [j for j, _ in jobs])


def wait_queue_empty(limit):
    t0 = time.monotonic()
    while True:
        jobs = bench_jobs()
        if not jobs:
            return True
        if time.monotonic() - t0 > limit:
            log(f"{len(jobs)} benchmark jobs still queued after {limit} s, going on")
            return False
        time.sleep(1)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def machine_info(a):
    cpu = "n/a"
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "n/a"
    try:
        for l in open("/proc/meminfo"):
            if l.startswith("MemTotal"):
                mem = f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    osname = "n/a"
    try:
        for l in open("/etc/os-release"):
            if l.startswith("PRETTY_NAME="):
                osname = l.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = out_of(["git", "-C", repo, "describe", "--always", "--dirty"])
    return {
        "CPU": f"{cpu}, {os.cpu_count()} CPUs",
        "memory": mem,
        "OS": f"{osname}, kernel {platform.release()}",
        "ours": f"{out_of([a.troika, '--version'])} ({a.troika}, commit {commit}, {os.path.getsize(a.troika)} bytes)",
        "reference": f"{out_of([a.ref, '--version'])} on {out_of([os.path.join(os.path.dirname(a.ref), 'python'), '--version'])}",
        "rustc": out_of(["rustc", "--version"]),
        "hyperfine": out_of(["hyperfine", "--version"]),
        "Slurm": out_of(["sbatch", "--version"]),
        "OpenSSH": out_of(["ssh", "-V"]),
        "load average (1, 5, 15 min) at start": loadavg(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--troika", required=True, help="our release binary")
    ap.add_argument("--ref", required=True, help="troika 0.2.7 entry point")
    ap.add_argument("--work", required=True, help="scratch directory")
    ap.add_argument("--out", required=True, help="RESULTS.md to write")
    ap.add_argument("--ssh-config", default="", help="ssh client config for the ssh cases (empty: skip)")
    ap.add_argument("--ssh-host", default="troika-test")
    ap.add_argument("--ssh-user", default="troika-ssh1")
    ap.add_argument("--no-slurm", action="store_true", help="skip every Slurm case")
    ap.add_argument("--quick", action="store_true", help="fewer runs, no concurrent run of 0.2.7")
    ap.add_argument("--cases", default="startup,direct,slurm,ssh,big,scale,concurrent")
    ap.add_argument("--slurm-runs", type=int, default=30)
    ap.add_argument("--ssh-runs", type=int, default=50)
    ap.add_argument("--big-mib", type=int, default=100)
    ap.add_argument("--big-ref-timeout", type=int, default=120)
    ap.add_argument("--scale-sites", type=int, default=260000, help="sites of the large configuration")
    ap.add_argument("--scale-directives", type=int, default=100000, help="directives of the large script")
    ap.add_argument("--scale-ref-timeout", type=int, default=120)
    ap.add_argument("--concurrent", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--concurrent-ref", action=argparse.BooleanOptionalAction, default=True,
                    help="also run the concurrent submits with 0.2.7")
    ap.add_argument("--run-deadline", type=int, default=900, help="seconds to wait for the concurrent jobs to run")
    ap.add_argument("--queue-wait", type=int, default=600)
    a = ap.parse_args()
    if a.quick:
        a.slurm_runs = min(a.slurm_runs, 10)
        a.concurrent_ref = False
    a.troika = os.path.abspath(a.troika)
    a.ref = os.path.abspath(a.ref)
    cases = a.cases.split(",")
    if a.no_slurm:
        cases = [c for c in cases if c not in ("slurm", "ssh", "concurrent")]
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info = machine_info(a)
    b = Bench(a)
    b.setup()
    try:
        for c in cases:
            if c in ("slurm", "ssh", "concurrent"):
                wait_queue_empty(a.queue_wait)
            getattr(b, "case_" + c)()
    finally:
        jobs = bench_jobs()
        if jobs:
            log(f"cancelling {len(jobs)} benchmark jobs left in the queue")
            cancel_bench_jobs()
        if a.ssh_config:
            b.ssh_master_exit()
    finished = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if getattr(b, "load_before_concurrent", None):
        info["load average before the concurrent run"] = b.load_before_concurrent
    info["load average at end"] = loadavg()
    if a.no_slurm:
        b.sections.append("Slurm and ssh cases not measured: no Slurm cluster (tests/services/slurm.sh up failed).\n")
    text = b.report(info, started, finished)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(b.raw, f, indent=1)
    print()
    print(text)
    log(f"written {a.out}")


if __name__ == "__main__":
    main()
