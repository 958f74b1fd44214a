"""A bounded soak driver for the scheduler: for --minutes keeps a varied mix of traffic going over gRPC and the
OpenAI-compatible HTTP API, then waits for every accepted job to end and checks the counts against the scheduler's.

Everything is loopback, bounded in time (--minutes, then at most --drain-seconds) and in concurrency (--workers).
Prints progress lines every 60 s and, at the end, one JSON object with what it saw and the checks.
"""
import argparse
import http.client
import importlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import atexit

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--grpc", action="append", required=True, help="host:port of a silo's gRPC (repeat for several)")
ap.add_argument("--openai", action="append", required=True, help="host:port of a silo's OpenAI port (repeat)")
ap.add_argument("--admin-key", required=True)
ap.add_argument("--protos", default=os.path.join(HERE, "..", "..", "protos"))
ap.add_argument("--model", default="llama-3.1-8b")
ap.add_argument("--minutes", type=float, default=20)
ap.add_argument("--workers", type=int, default=8)
ap.add_argument("--new-tenants-per-minute", type=int, default=4)
ap.add_argument("--live-tenants", type=int, default=12, help="how many of the newest tenants get traffic")
ap.add_argument("--pause", type=float, default=0.15, help="seconds each worker waits between actions")
ap.add_argument("--drain-seconds", type=float, default=180)
ap.add_argument("--out", default=None)
args = ap.parse_args()


def compile_protos():
    out = tempfile.mkdtemp(prefix="soak-protos-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    subprocess.run(["protoc", f"-I{args.protos}", "-I/usr/include", f"--python_out={out}",
                    "scheduler/v1/inference.proto", "scheduler/v1/admin.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("scheduler.v1.inference_pb2"), importlib.import_module("scheduler.v1.admin_pb2")


pb, apb = compile_protos()
channels = [grpc.insecure_channel(a) for a in args.grpc]
INF = "/scheduler.v1.InferenceService/"
ADM = "/scheduler.v1.AdminService/"
TERMINAL = {pb.JOB_STATUS_COMPLETED, pb.JOB_STATUS_FAILED, pb.JOB_STATUS_CANCELLED, pb.JOB_STATUS_EXPIRED}
STOP_AT = time.time() + args.minutes * 60

lock = threading.Lock()
accepted = {}          # job id -> tenant id
counts = {}            # action/outcome -> count
errors = {}            # status -> count (unexpected)
tenants = []           # (id, key), oldest first
keyed = []             # (tenant, key, request) already used, to repeat


def bump(name, n=1):
    with lock:
        counts[name] = counts.get(name, 0) + n


def error(what, err):
    code = err.code().name if isinstance(err, grpc.RpcError) else type(err).__name__
    with lock:
        k = f"{what}:{code}"
        errors[k] = errors.get(k, 0) + 1
        if errors[k] <= 3:
            detail = err.details() if isinstance(err, grpc.RpcError) else str(err)
            print(f"  error {k}: {detail[:200]}", flush=True)


def accept(job_id, tenant):
    with lock:
        if job_id not in accepted:
            accepted[job_id] = tenant
            counts["accepted"] = counts.get("accepted", 0) + 1


def ch():
    return random.choice(channels)


def unary(service, method, request, response, key, timeout=30, channel=None):
    call = (channel or ch()).unary_unary(service + method, request_serializer=type(request).SerializeToString,
                                         response_deserializer=response.FromString)
    return call(request, metadata=[("authorization", "Bearer " + key)], timeout=timeout)


def admin(method, request, response):
    return unary(ADM, method, request, response, args.admin_key)


def add_tenant():
    tid = "soak-" + uuid.uuid4().hex[:10]
    key = "soak-key-" + uuid.uuid4().hex
    admin("PutTenant", apb.PutTenantRequest(tenant_id=tid, weight=random.choice([0.5, 1, 2]), api_key=key,
                                            quotas=apb.TenantQuotas(max_queued_jobs=200)), apb.Tenant)
    with lock:
        tenants.append((tid, key))
    bump("tenants_created")


def live_tenant():
    with lock:
        return random.choice(tenants[-args.live_tenants:])


def prompt():
    # A shared system-like prefix half the time (prefix cache), then something fresh.
    head = "You are a helpful assistant. Answer briefly. " * random.choice([0, 4]) if random.random() < 0.5 else ""
    return head + f"Question {random.randint(0, 10**9)}: " + " ".join(random.choice(["why", "how", "sky", "blue", "grpc", "soak", "token"]) for _ in range(random.randint(5, 60)))


def request(**kw):
    r = pb.SubmitJobRequest(model=args.model, prompt=prompt(), max_tokens=random.randint(4, 48),
                            priority=random.choice([pb.PRIORITY_STANDARD, pb.PRIORITY_STANDARD, pb.PRIORITY_CRITICAL, pb.PRIORITY_SHEDDABLE]))
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def stream_job(disconnect=False):
    tid, key = live_tenant()
    kw = {"session_id": f"sess-{random.randint(0, 30)}"} if random.random() < 0.4 else {}
    call = ch().unary_stream(INF + "StreamJob", request_serializer=pb.SubmitJobRequest.SerializeToString,
                             response_deserializer=pb.JobEvent.FromString)
    it = call(request(**kw), metadata=[("authorization", "Bearer " + key)], timeout=120)
    try:
        for ev in it:
            accept(ev.job_id, tid)
            if disconnect and ev.WhichOneof("event") == "tokens":
                it.cancel()
                bump("stream_disconnected")
                return
        bump("stream_done")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            error("StreamJob", e)


def stream_jobs():
    tid, key = live_tenant()
    n = random.randint(2, 8)
    reqs = [pb.StreamJobsRequest(ref=f"r{i}", job=request()) for i in range(n)]
    call = ch().stream_stream(INF + "StreamJobs", request_serializer=pb.StreamJobsRequest.SerializeToString,
                              response_deserializer=pb.StreamJobsResponse.FromString)
    ended = set()
    try:
        for m in call(iter(reqs), metadata=[("authorization", "Bearer " + key)], timeout=180):
            if m.WhichOneof("kind") == "refused":
                bump("streamjobs_refused:" + str(m.refused.code))
                ended.add(m.ref)
            else:
                accept(m.event.job_id, tid)
                if m.event.WhichOneof("event") in ("completed", "failed", "cancelled", "expired"):
                    ended.add(m.ref)
        bump("streamjobs_calls")
        bump("streamjobs_jobs_ended", len(ended))
    except grpc.RpcError as e:
        error("StreamJobs", e)


def submit_poll(cancel=False, deadline=False, idem=None):
    tid, key = live_tenant()
    if idem == "repeat":
        with lock:
            pool = [k for k in keyed[-200:] if k[0] == tid]
        if not pool:
            idem = "fresh"
        else:
            _, _, req = random.choice(pool)
            try:
                job = unary(INF, "SubmitJob", req, pb.Job, key)
                with lock:
                    same = accepted.get(job.job_id) == tid
                bump("idem_repeat_same" if same else "idem_repeat_NEW_JOB")
            except grpc.RpcError as e:
                error("SubmitJob(repeat)", e)
            return
    kw = {}
    if idem == "fresh":
        kw["idempotency_key"] = "idem-" + uuid.uuid4().hex
    if deadline:
        # Far too short for a long generation: it expires in the queue (or is refused up front).
        kw["deadline_ms"] = random.randint(1, 40)
        kw["max_tokens"] = random.randint(1500, 3000)
    if cancel:
        kw["max_tokens"] = random.randint(300, 1000)
    req = request(**kw)
    try:
        job = unary(INF, "SubmitJob", req, pb.Job, key)
    except grpc.RpcError as e:
        if e.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.FAILED_PRECONDITION):
            bump(f"submit_refused:{e.code().name}")
        else:
            error("SubmitJob", e)
        return
    accept(job.job_id, tid)
    if idem == "fresh":
        with lock:
            keyed.append((tid, req.idempotency_key, req))
    if cancel:
        time.sleep(random.uniform(0, 0.5))
        try:
            unary(INF, "CancelJob", pb.CancelJobRequest(job_id=job.job_id), pb.Job, key)
            bump("cancelled_calls")
        except grpc.RpcError as e:
            error("CancelJob", e)
    end = time.time() + 60
    while time.time() < end:
        try:
            got = unary(INF, "GetJob", pb.GetJobRequest(job_id=job.job_id), pb.Job, key)
        except grpc.RpcError as e:
            error("GetJob", e)
            return
        if got.status in TERMINAL:
            bump("polled_" + pb.JobStatus.Name(got.status))
            return
        time.sleep(0.3)
    bump("poll_gave_up")


def openai(stream, disconnect=False):
    tid, key = live_tenant()
    host, port = random.choice(args.openai).split(":")
    body = {"model": args.model, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt()}],
            "max_tokens": random.randint(4, 40), "stream": stream}
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    if random.random() < 0.3:
        headers["x-session-id"] = f"chat-{random.randint(0, 30)}"
    if random.random() < 0.2:
        headers["Idempotency-Key"] = "oa-" + uuid.uuid4().hex
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        job = resp.getheader("x-scheduler-job-id")
        if resp.status != 200:
            bump(f"openai_http_{resp.status}")
            resp.read()
            return
        if job:
            accept(job, tid)
        if stream:
            lines = 0
            while True:
                line = resp.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    lines += 1
                    if disconnect and lines >= 2:
                        bump("openai_disconnected")
                        return
                    if line.strip() == b"data: [DONE]":
                        break
            bump("openai_stream_done")
        else:
            json.loads(resp.read())
            bump("openai_done")
    except Exception as e:  # noqa: BLE001 -- counted and shown, the soak goes on
        error("openai", e)
    finally:
        conn.close()


def admin_calls():
    tid, _ = live_tenant()
    try:
        choice = random.randint(0, 5)
        if choice == 0:
            admin("PutTenant", apb.PutTenantRequest(tenant_id=tid, weight=random.choice([0.5, 1, 2, 3]),
                                                    update_mask={"paths": ["weight"]}), apb.Tenant)
        elif choice == 1:
            r = admin("ListJobs", pb.ListJobsRequest(tenant_id=tid, page_size=20), pb.ListJobsResponse)
            if r.jobs:
                admin("ExplainJob", apb.ExplainJobRequest(job_id=random.choice(r.jobs).job_id), apb.JobExplanation)
        elif choice == 2:
            admin("GetCapacity", apb.GetCapacityRequest(model=args.model), apb.GetCapacityResponse)
        elif choice == 3:
            admin("GetClusterSummary", apb.GetClusterSummaryRequest(), apb.ClusterSummary)
        elif choice == 4:
            admin("GetTenant", apb.GetTenantRequest(tenant_id=tid), apb.Tenant)
        else:
            admin("ListTenants", apb.ListTenantsRequest(page_size=50), apb.ListTenantsResponse)
        bump("admin_calls")
    except grpc.RpcError as e:
        error("admin", e)


ACTIONS = [
    (14, lambda: stream_job()),
    (4, lambda: stream_job(disconnect=True)),
    (5, stream_jobs),
    (10, lambda: submit_poll()),
    (4, lambda: submit_poll(cancel=True)),
    (3, lambda: submit_poll(deadline=True)),
    (5, lambda: submit_poll(idem="fresh")),
    (4, lambda: submit_poll(idem="repeat")),
    (6, lambda: openai(stream=True)),
    (2, lambda: openai(stream=True, disconnect=True)),
    (5, lambda: openai(stream=False)),
    (8, admin_calls),
]
WEIGHTS = [w for w, _ in ACTIONS]


def worker():
    while time.time() < STOP_AT:
        action = random.choices(ACTIONS, weights=WEIGHTS)[0][1]
        try:
            action()
        except Exception as e:  # noqa: BLE001
            error("driver", e)
        time.sleep(random.uniform(0, 2 * args.pause))


def tenant_maker():
    while time.time() < STOP_AT:
        for _ in range(args.new_tenants_per_minute):
            try:
                add_tenant()
            except grpc.RpcError as e:
                error("PutTenant(new)", e)
        time.sleep(60)


for _ in range(args.live_tenants):
    add_tenant()
started = time.time()
threads = [threading.Thread(target=tenant_maker, daemon=True)] + [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads[1:]):
    time.sleep(min(60, max(1, STOP_AT - time.time() + 1)))
    with lock:
        print(f"[{time.time() - started:6.0f}s] tenants {len(tenants)} accepted {len(accepted)} errors {sum(errors.values())} "
              f"{json.dumps(dict(sorted(counts.items())))}", flush=True)

# Drain: every accepted job must reach a terminal status.
print("drain: waiting for every accepted job to end", flush=True)
keys = dict(tenants)
pending = set(accepted)
final = {}
drain_end = time.time() + args.drain_seconds
while pending and time.time() < drain_end:
    for jid in list(pending):
        tid = accepted[jid]
        try:
            job = unary(INF, "GetJob", pb.GetJobRequest(job_id=jid), pb.Job, keys[tid])
        except grpc.RpcError as e:
            final[jid] = "RPC_" + e.code().name
            pending.discard(jid)
            continue
        if job.status in TERMINAL:
            final[jid] = pb.JobStatus.Name(job.status)
            pending.discard(jid)
    if pending:
        time.sleep(2)
by_status = {}
for s in final.values():
    by_status[s] = by_status.get(s, 0) + 1

# Counts against the scheduler's: per tenant, submitted = what we saw accepted; ended = submitted; none queued or running.
mismatches = []
sums = {"jobs_submitted": 0, "jobs_completed": 0, "jobs_failed": 0, "jobs_cancelled": 0, "jobs_expired": 0}
per_tenant_seen = {}
for jid, tid in accepted.items():
    per_tenant_seen.setdefault(tid, {}).setdefault(final.get(jid, "PENDING"), 0)
    per_tenant_seen[tid][final.get(jid, "PENDING")] += 1
time.sleep(5)  # tenant counters hear of a job's end by one-way message
for tid, _ in tenants:
    t = admin("GetTenant", apb.GetTenantRequest(tenant_id=tid), apb.Tenant)
    seen = per_tenant_seen.get(tid, {})
    u = t.usage
    for k in sums:
        sums[k] += getattr(u, k)
    want = {"submitted": sum(seen.values()), "completed": seen.get("JOB_STATUS_COMPLETED", 0), "failed": seen.get("JOB_STATUS_FAILED", 0),
            "cancelled": seen.get("JOB_STATUS_CANCELLED", 0), "expired": seen.get("JOB_STATUS_EXPIRED", 0), "queued": 0, "running": 0}
    got = {"submitted": u.jobs_submitted, "completed": u.jobs_completed, "failed": u.jobs_failed, "cancelled": u.jobs_cancelled,
           "expired": u.jobs_expired, "queued": t.queued_jobs, "running": t.running_jobs}
    if want != got:
        mismatches.append({"tenant": tid, "driver": want, "scheduler": got})
summary = admin("GetClusterSummary", apb.GetClusterSummaryRequest(), apb.ClusterSummary)
result = {
    "minutes": args.minutes, "tenants": len(tenants), "accepted": len(accepted), "final": by_status, "pending": len(pending),
    "counts": dict(sorted(counts.items())), "errors": errors, "tenant_usage_sums": sums, "tenant_mismatches": mismatches[:20],
    "tenant_mismatch_count": len(mismatches),
    "summary": {"queued_jobs": summary.queued_jobs, "running_jobs": summary.running_jobs, "completed_jobs": summary.completed_jobs,
                "tenants": summary.tenants},
}
print(json.dumps(result, indent=1), flush=True)
if args.out:
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
