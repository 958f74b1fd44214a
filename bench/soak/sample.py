"""Samples resources every --every seconds for --minutes: per process RSS, threads, open fds; per silo /metrics line
count, GC heap, Orleans activations; Redis memory and DBSIZE. One TSV row per sample and process."""
import argparse
import os
import re
import subprocess
import time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--pid", action="append", default=[], help="name=PID")
ap.add_argument("--metrics", action="append", default=[], help="name=http://host:port (the silo's HTTP port)")
ap.add_argument("--log", action="append", default=[], help="name=path of its log")
ap.add_argument("--redis-port", type=int, default=0)
ap.add_argument("--every", type=float, default=30)
ap.add_argument("--minutes", type=float, default=30)
ap.add_argument("--out", required=True)
args = ap.parse_args()


def proc(pid):
    st = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1)) // 1024
    thr = int(re.search(r"Threads:\s+(\d+)", st).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return rss, thr, fds, cpu


def metric_sum(text, name, label=None):
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            if label and label not in line:
                continue
            try:
                total += float(line.rsplit(" ", 1)[1])
                found = True
            except ValueError:
                pass
    return total if found else None


def metrics(url):
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    return {
        "series": len(lines),
        "bytes": len(text),
        "activations": metric_sum(text, "orleans_catalog_activations"),
        "act_tenant": metric_sum(text, "orleans_catalog_activations", 'grain_type="tenant"'),
        "act_job": metric_sum(text, "orleans_catalog_activations", 'grain_type="job"'),
        "tenant_series": sum(1 for l in lines if "scheduler_tenant=" in l),
    }


def redis():
    info = subprocess.run(["redis-cli", "-p", str(args.redis_port), "INFO", "memory"], capture_output=True, text=True).stdout
    used = int(re.search(r"used_memory:(\d+)", info).group(1)) // 1024
    n = int(subprocess.run(["redis-cli", "-p", str(args.redis_port), "DBSIZE"], capture_output=True, text=True).stdout.strip())
    return used, n


start = time.time()
with open(args.out, "w") as out:
    out.write("t_s\tload1\tname\trss_mb\tthreads\tfds\tcpu_s\tmetrics_series\tmetrics_kb\ttenant_series\tactivations\tact_tenant\tact_job\tlog_kb\tredis_kb\tredis_keys\n")
    while time.time() - start < args.minutes * 60:
        t = round(time.time() - start)
        load = open("/proc/loadavg").read().split()[0]
        for spec in args.pid:
            name, pid = spec.split("=")
            try:
                rss, thr, fds, cpu = proc(pid)
            except OSError:
                out.write(f"{t}\t{load}\t{name}\tGONE\n")
                continue
            m = {}
            logs = {n: os.path.getsize(p) // 1024 for n, p in (l.split("=", 1) for l in args.log)}
            for ms in args.metrics:
                mname, url = ms.split("=", 1)
                if mname == name:
                    try:
                        m = metrics(url)
                    except Exception as e:  # noqa: BLE001
                        m = {"series": f"ERR {e}"}
            out.write(f"{t}\t{load}\t{name}\t{rss}\t{thr}\t{fds}\t{cpu:.0f}\t{m.get('series', '')}\t{round(m.get('bytes', 0) / 1024)}\t"
                      f"{m.get('tenant_series', '')}\t{m.get('activations', '')}\t{m.get('act_tenant', '')}\t{m.get('act_job', '')}\t{logs.get(name, '')}\t\t\n")
        if args.redis_port:
            used, n = redis()
            out.write(f"{t}\t{load}\tredis\t\t\t\t\t\t\t\t\t\t\t\t{used}\t{n}\n")
        out.flush()
        time.sleep(args.every)
