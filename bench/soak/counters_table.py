import csv, sys, collections
rows = collections.OrderedDict()
for r in csv.DictReader(open(sys.argv[1])):
    t = r["Timestamp"].split(" ")[1]
    d = rows.setdefault(t, collections.defaultdict(float))
    n, v = r["Counter Name"], float(r["Mean/Increment"] or 0)
    if n.startswith("dotnet.gc.last_collection.heap.size"): d["heap_mb"] += v / 2**20
    elif n.startswith("dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=gen2]"): pass
    if n.startswith("dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=gen2]"): d["gen2_mb"] = v / 2**20
    if n.startswith("dotnet.gc.last_collection.memory.committed"): d["committed_mb"] = v / 2**20
    if n.startswith("dotnet.timer.count"): d["timers"] = v
    if n.startswith("dotnet.thread_pool.thread.count"): d["pool_threads"] = v
    if n.startswith("dotnet.exceptions"): d["exc:" + n.split("error.type=")[1].rstrip("]")] = v
    if n.startswith("dotnet.gc.collections ({collection} / 30 sec)[gc.heap.generation=gen2]"): d["gen2_gcs"] = v
keys = sorted({k for d in rows.values() for k in d})
print("time\t" + "\t".join(keys))
for t, d in rows.items():
    print(t + "\t" + "\t".join(f"{d.get(k, 0):.0f}" for k in keys))
