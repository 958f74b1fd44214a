#!/usr/bin/env python3
# Attributes a dotnet-trace sampled-thread-time trace of bench/Scheduler.Bench (converted to speedscope) to the
# hops of one job. See docs/benchmarks.md, "Profiling one job's path (issue 12)". Usage:
#   attribute_hops.py TRACE.speedscope.json conc JOBS_1_TENANT JOBS_4_TENANTS CPU_US_PER_JOB_1 CPU_US_PER_JOB_4 [WARM_UP_S [JOBS_MUX CPU_US_PER_JOB_MUX]]
# JOBS_* = the report's concurrent jobs/s x 5 (the counted window); CPU_US_PER_JOB_* = its "CPU per call, concurrent";
# WARM_UP_S = the bench's --warm-up (5 s by default since 2026-12-04; the runs of 2026-12-02 used 2); JOBS_MUX and
# CPU_US_PER_JOB_MUX the same for the window over StreamJobs calls (its jobs/s x 5, its CPU per call), since 2026-12-04.
import json, sys, collections
# usage: attr.py trace.speedscope.json jobs_conc jobs_spread
path = sys.argv[1]
d = json.load(open(path))
frames = [f['name'] for f in d['shared']['frames']]
HOPS = [  # (category, substrings) -- innermost match on the stack wins
 ('front door: JobSubmissions / InferenceGrpcService', ['Scheduler.Silo.Api.']),
 ('tenant grain: TenantGrain', ['Scheduler.Grains.Tenants.']),
 ('job record: JobGrain (+ journal, index)', ['Scheduler.Grains.Jobs.']),
 ('placement: PlacementGrain / ModelPlacement', ['Scheduler.Grains.Placement.', 'Scheduler.Policies.']),
 ('fleet grains: WorkerNode/Replica/Accelerator', ['Scheduler.Grains.Fleet.']),
 ('node link: GrpcNodeLink (silo side)', ['Scheduler.Silo.Nodes.']),
 ('event path back: JobEventHub / subscriptions', ['Scheduler.Silo.Streaming.']),
 ('worker: node, engine, step loop', ['Scheduler.Worker.']),
 ('bench client: StreamJobCaller / LoadRunner', ['Scheduler.Bench.']),
]
INFRA = [
 ('Orleans messaging / serialization', ['Orleans.']),
 ('gRPC / Kestrel / HTTP/2 (server and client)', ['Grpc.', 'Microsoft.AspNetCore.', 'System.Net.Http', 'System.Net.Sockets', 'System.Net.Security', 'Google.Protobuf']),
 ('Redis client', ['StackExchange.Redis', 'Pipelines.Sockets']),
]
def cat_of(fid, table):
    n = frames[fid].split('!',1)[1] if '!' in frames[fid] else ''
    for c, subs in table:
        for s in subs:
            if s in n: return c
    return None
hopcat = [cat_of(i, HOPS) for i in range(len(frames))]
infcat = [cat_of(i, INFRA) for i in range(len(frames))]
# mark notable frames for inclusive numbers
INCL = {
 'JobSubmissions (any: Submit and its async parts)': ['Scheduler.Silo.Api.JobSubmissions'],
 'TenantGrain.Submit (and its async parts)': ['TenantGrain.Submit', 'TenantGrain+<Submit'],
 'TenantGrain (any)': ['Scheduler.Grains.Tenants.TenantGrain'],
 'JobGrain (any)': ['Scheduler.Grains.Jobs.JobGrain'],
 'PlacementGrain (any)': ['Scheduler.Grains.Placement.PlacementGrain'],
 'ModelPlacement (any)': ['Scheduler.Grains.Placement.ModelPlacement'],
 'GrpcNodeLink (any)': ['Scheduler.Silo.Nodes.GrpcNodeLink'],
 'JobEventHub (any)': ['JobEventHub'],
 'Scheduler.Worker (any)': ['Scheduler.Worker.'],
 'Orleans.Serialization (any)': ['Orleans.Serialization'],
 'Orleans.Runtime.Messaging (any)': ['Orleans.Runtime.Messaging'],
 'Kestrel (any)': ['Microsoft.AspNetCore.Server.Kestrel'],
 'Grpc.Net.Client (any)': ['Grpc.Net.Client'],
 'StackExchange.Redis (any)': ['StackExchange.Redis'],
 'Orleans storage (any)': ['Orleans.Storage', 'Orleans.Persistence', 'WriteStateAsync'],
}
meth = [n.split('!',1)[1] if '!' in n else '' for n in frames]
inclm = {k: set(i for i,n in enumerate(meth) if any(s in n for s in v)) for k,v in INCL.items()}
# find window markers
# The 1-tenant window starts with the first StreamJob call made by a concurrent caller (LoadRunner's Caller); until
# 2026-12-04 the bench ran its front-door probes just before it, and the window was found after the last probe.
caller = set(i for i,n in enumerate(frames) if 'LoadRunner+<Caller>' in n)
stream_job = set(i for i,n in enumerate(frames) if 'StreamJobCaller' in n)
spread = set(i for i,n in enumerate(frames) if 'g__Spread' in n)
mux = set(i for i,n in enumerate(frames) if 'MultiplexedJobCaller' in n)
cpu_frames = set(i for i,n in enumerate(frames) if n == 'CPU_TIME')
unm_frames = set(i for i,n in enumerate(frames) if n == 'UNMANAGED_CODE_TIME')
# first pass: intervals  (thread, start, end, stack tuple)
intervals = []
first_conc = 1e18; first_spread = 1e18; last_spread = 0; first_mux = 1e18
for p in d['profiles']:
    st = []; prev = None
    for e in p['events']:
        t = e['at']
        if prev is not None and st and t > prev:
            intervals.append((prev, t, tuple(st)))
        if e['type'] == 'O': st.append(e['frame'])
        else:
            # close: pop until frame
            while st:
                f = st.pop()
                if f == e['frame']: break
        if e['type'] == 'O' and e['frame'] in stream_job and any(f in caller for f in st): first_conc = min(first_conc, t)
        if e['frame'] in mux: first_mux = min(first_mux, t)
        if e['frame'] in spread:
            first_spread = min(first_spread, t); last_spread = max(last_spread, t)
        prev = t
print('frames', len(frames), 'intervals', len(intervals), 'first concurrent StreamJob', first_conc, 'first spread', first_spread, 'last spread', last_spread, file=sys.stderr)
def window(a, b, jobs, label, cpu_per_job):
    tot = collections.Counter(); incl = collections.Counter(); state = collections.Counter(); oleaf = collections.Counter()
    allt = 0.0
    for s, e, st in intervals:
        lo, hi = max(s, a), min(e, b)
        if hi <= lo: continue
        dt = hi - lo
        leaf = st[-1]
        kind = 'cpu' if leaf in cpu_frames else ('native' if leaf in unm_frames else 'other')
        # idle: no app or infra frame at all except thread-pool waits -> counted in 'idle/wait'
        c = None
        if kind == 'cpu' and len(st) > 1 and 'PollGCWorker' in meth[st[-2]]:
            tot[('EXCLUDED: thread stopped at a GC poll (waiting for a GC, any stack)', kind)] += dt; state[kind] += dt
            continue
        for f in reversed(st):
            if hopcat[f]: c = hopcat[f]; break
        if c is None:
            for f in st:
                if infcat[f]: c = infcat[f]; break
        if c is None:
            c = 'other (runtime, thread pool, timers, GC, waits)'
            if len(st) > 1 and (any(x in meth[st[-2]] for x in ('GetRuntimeTypeFromHandleSlow', 'PollGCWorker')) or any('RunFinalizers' in meth[f] or meth[f].endswith('.Finalize()') for f in st)):
                c = 'EXCLUDED: threads parked for a GC / finalizer thread'
            if kind == 'cpu': oleaf[meth[st[-2]][:110] if len(st)>1 else '?'] += dt
        if c == 'Redis client' and len(st) > 1 and meth[st[-2]].endswith('RunWorkLoop()'):
            c = 'EXCLUDED: SE.Redis dedicated pipe-scheduler threads idle in RunWorkLoop'
        if c == 'Redis client' and kind == 'cpu': oleaf['REDIS ' + meth[st[-2]][:110]] += dt
        tot[(c, kind)] += dt
        state[kind] += dt
        sset = set(st)
        for k, fs in inclm.items():
            if sset & fs: incl[(k, kind)] += dt
    print(f'\n## {label}: window {a:.0f}-{b:.0f} ms ({(b-a)/1000:.1f} s), jobs {jobs}')
    print('states ms:', {k: round(v) for k, v in state.items()})
    cats = sorted(set(c for c, _ in tot), key=lambda c: -(tot[(c,'cpu')]))
    cpu_all = sum(tot[(c,'cpu')] for c in cats if not c.startswith('EXCLUDED'))
    print('| category (innermost hop on the stack) | sampled managed µs/job (raw) | share | CPU µs/job (share x measured %d) | native-code time µs/job (raw) |' % cpu_per_job)
    for c in cats:
        m = tot[(c,'cpu')]*1000/jobs; n = tot[(c,'native')]*1000/jobs
        sh = tot[(c,"cpu")]/cpu_all
        print(f'| {c} | {m:,.0f} | {100*sh:.1f}% | {sh*cpu_per_job:,.0f} | {n:,.0f} |')
    print(f'| total | {cpu_all*1000/jobs:,.0f} | 100% | {sum(tot[(c,"native")] for c in cats)*1000/jobs:,.0f} |')
    print('\ninclusive (frame anywhere on the stack):')
    for k in INCL:
        sh = incl[(k,"cpu")]/cpu_all
        print(f'| {k} | {incl[(k,"cpu")]*1000/jobs:,.0f} | {100*sh:.1f}% | {sh*cpu_per_job:,.0f} | {incl[(k,"native")]*1000/jobs:,.0f} |')
    print('\ntop managed leaves (parent of CPU_TIME) with no app/infra frame:')
    for k,v in oleaf.most_common(15): print(f'  {100*v/cpu_all:5.1f}%  {k}')
    return tot
mode = sys.argv[2]
if mode == 'conc':
    jobs = float(sys.argv[3]); jobs2 = float(sys.argv[4])
    warm = 1000 * float(sys.argv[7]) if len(sys.argv) > 7 else 5000
    window(first_conc + warm, first_conc + warm + 5000, jobs, 'concurrent, 1 tenant (counted 5 s)', float(sys.argv[5]))
    window(first_spread + warm, first_spread + warm + 5000, jobs2, 'concurrent, 4 tenants (counted 5 s)', float(sys.argv[6]))
    if len(sys.argv) > 9:
        window(first_mux + warm, first_mux + warm + 5000, float(sys.argv[8]), 'concurrent over StreamJobs calls (counted 5 s)', float(sys.argv[9]))
