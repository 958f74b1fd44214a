"""Drives the scheduler's gRPC InferenceService from Python with grpcio (gRPC's C core: another HTTP/2 implementation
than .NET's and Node's), as an ML team's service would; run by the C# test GrpcPythonClientTests against a live silo.

The messages are compiled from protos/ at run time with protoc (no generated code is committed) and the calls are made
through grpcio's generic callables, so only Debian's python3-grpcio, python3-protobuf and protobuf-compiler are needed.
Environment: GRPC_ADDRESS (host:port), API_KEY, ADMIN_KEY, PACED_API_KEY (a tenant allowed one request a minute), MODEL. Prints one JSON line with what it saw (the C# test checks the
jobs against the scheduler's records); any failed expectation exits non-zero.
"""
import atexit
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = os.path.join(HERE, "..", "..", "protos")
SERVICE = "/scheduler.v1.InferenceService/"


# The part of Google's public google/rpc/status.proto and error_details.proto (same packages, names and field numbers)
# that the check reads from the grpc-status-details-bin trailer, as googleapis-common-protos would; Debian's
# python3-protobuf does not ship them.
RICH_ERRORS = """syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
message BadRequest { message FieldViolation { string field = 1; string description = 2; } repeated FieldViolation field_violations = 1; }
message ResourceInfo { string resource_type = 1; string resource_name = 2; string owner = 3; string description = 4; }
message RetryInfo { google.protobuf.Duration retry_delay = 1; }
message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
"""

# gRPC's public grpc/health/v1/health.proto (same package, names and field numbers), as grpcio-health-checking ships it.
HEALTH = """syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }
"""


def compile_protos():
    out = tempfile.mkdtemp(prefix="scheduler-protos-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    os.makedirs(os.path.join(out, "google", "rpc"))
    with open(os.path.join(out, "google", "rpc", "rich_errors.proto"), "w") as f:
        f.write(RICH_ERRORS)
    # Not under grpc/: a generated package named grpc would hide grpcio's.
    os.makedirs(os.path.join(out, "health_check"))
    with open(os.path.join(out, "health_check", "health.proto"), "w") as f:
        f.write(HEALTH)
    subprocess.run(
        ["protoc", f"-I{PROTOS}", f"-I{out}", "-I/usr/include", f"--python_out={out}", "scheduler/v1/inference.proto",
         "google/rpc/rich_errors.proto", "health_check/health.proto"],
        check=True,
    )
    sys.path.insert(0, out)
    return (importlib.import_module("scheduler.v1.inference_pb2"), importlib.import_module("google.rpc.rich_errors_pb2"),
            importlib.import_module("health_check.health_pb2"))


pb, rpc, health = compile_protos()
channel = grpc.insecure_channel(os.environ["GRPC_ADDRESS"])
model = os.environ["MODEL"]


def expect(condition, what):
    if not condition:
        raise AssertionError("expected " + what)


def auth(key=None, scheme="Bearer "):
    key = os.environ["API_KEY"] if key is None else key
    return [] if key == "" else [("authorization", scheme + key)]


def unary(method, request, response, key=None, timeout=30, scheme="Bearer ", service=SERVICE):
    call = channel.unary_unary(service + method, request_serializer=type(request).SerializeToString,
                               response_deserializer=response.FromString)
    return call(request, metadata=auth(key, scheme), timeout=timeout)


def stream(method, request, timeout=30):
    call = channel.unary_stream(SERVICE + method, request_serializer=type(request).SerializeToString,
                                response_deserializer=pb.JobEvent.FromString)
    return list(call(request, metadata=auth(), timeout=timeout))


def rich_detail(err, detail_type):
    """The one detail of that type in the error's google.rpc.Status (grpc-status-details-bin), checked against the status."""
    trailer = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    expect(trailer is not None, f"a grpc-status-details-bin trailer on {err.code()}")
    status = rpc.Status.FromString(trailer)
    expect((status.code, status.message) == (err.code().value[0], err.details()), f"the rich status to repeat the code and message, got {status}")
    found = [d for d in status.details if d.Is(detail_type.DESCRIPTOR)]
    expect(len(found) == 1, f"one {detail_type.DESCRIPTOR.full_name} in {status}")
    detail = detail_type()
    found[0].Unpack(detail)
    return detail


def refusal(action, code, field, resource=None, reason=None):
    try:
        action()
    except grpc.RpcError as err:
        expect(err.code() == code, f"{code} for {field}, got {err.code()} ({err.details()})")
        expect(err.details().startswith(field), f"a message naming {field}, got '{err.details()}'")
        seen = {"code": err.code().name, "details": err.details()}
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            violations = rich_detail(err, rpc.BadRequest).field_violations
            expect([v.field for v in violations] == [field], f"a BadRequest naming {field}, got {violations}")
            seen["field"] = violations[0].field
        if resource is not None:
            info = rich_detail(err, rpc.ResourceInfo)
            expect((info.resource_type, info.resource_name) == resource, f"a ResourceInfo {resource}, got {info}")
            seen["resource"] = [info.resource_type, info.resource_name]
        if reason is not None:
            info = rich_detail(err, rpc.ErrorInfo)
            expect((info.reason, info.domain) == (reason, "scheduler.v1"), f"an ErrorInfo {reason}, got {info}")
            seen["reason"] = info.reason
        return seen
    raise AssertionError(f"expected {code} for {field}")


def check_order(events, tokens, what):
    """Queued first, admitted before the first token, tokens contiguous from 0, completed last; returns the text."""
    kinds = [e.WhichOneof("event") for e in events]
    expect(kinds[0] == "queued", f"{what}: queued first, got {kinds}")
    expect("admitted" in kinds and kinds.index("admitted") < kinds.index("tokens"), f"{what}: admitted before tokens, got {kinds}")
    expect(kinds[-1] == "completed", f"{what}: completed last, got {kinds}")
    expect(len({e.job_id for e in events}) == 1, f"{what}: the events of one job")
    text, following = "", 0
    for e in events:
        if e.WhichOneof("event") == "tokens":
            expect(e.tokens.first_token_index == following, f"{what}: token {following} next, got {e.tokens.first_token_index}")
            following += e.tokens.token_count
            text += e.tokens.text
    expect(following == tokens == events[-1].completed.usage.completion_tokens, f"{what}: {tokens} tokens, got {following}")
    return text


seen = {}

request = pb.SubmitJobRequest(model=model, prompt="Hello from grpcio", max_tokens=5, idempotency_key="grpc-python-submit")
submitted = unary("SubmitJob", request, pb.Job)
expect(submitted.status in (pb.JOB_STATUS_QUEUED, pb.JOB_STATUS_RUNNING), f"a queued job, got {submitted.status}")
again = unary("SubmitJob", request, pb.Job)
expect(again.job_id == submitted.job_id, "the same job for the same idempotency key")
seen["submitted"] = submitted.job_id

streamed = stream("StreamJob", pb.SubmitJobRequest(model=model, prompt="Stream me from grpcio", max_tokens=12,
                                                    priority=pb.PRIORITY_CRITICAL))
text = check_order(streamed, 12, "StreamJob")
seen["streamed"] = {"id": streamed[0].job_id, "text": text}
fetched = unary("GetJob", pb.GetJobRequest(job_id=streamed[0].job_id), pb.Job)
expect(fetched.status == pb.JOB_STATUS_COMPLETED and fetched.output == text, "GetJob to give the streamed job, completed, with its text")

# StreamJobs: the requests are a generator, as a Python client writes a stream; a bad one is refused on the call.
multiplexed = channel.stream_stream(SERVICE + "StreamJobs", request_serializer=pb.StreamJobsRequest.SerializeToString,
                                    response_deserializer=pb.StreamJobsResponse.FromString)
submissions = [pb.StreamJobsRequest(ref=f"py-{i}", job=pb.SubmitJobRequest(model=model, prompt=f"Many from grpcio {i}", max_tokens=2 + i))
               for i in range(6)]
submissions.append(pb.StreamJobsRequest(ref="py-bad", job=pb.SubmitJobRequest(model=model, prompt="", max_tokens=4)))
messages = list(multiplexed(iter(submissions), metadata=auth(), timeout=60))
bad = [m for m in messages if m.ref == "py-bad"]
expect(len(bad) == 1 and bad[0].WhichOneof("kind") == "refused", f"one refusal for py-bad, got {bad}")
expect(bad[0].refused.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and bad[0].refused.message.startswith("prompt")
       and bad[0].refused.field == "prompt",
       f"INVALID_ARGUMENT naming prompt, got {bad[0].refused.code} '{bad[0].refused.message}' (field '{bad[0].refused.field}')")
seen["many"] = []
for i in range(6):
    events = [m.event for m in messages if m.ref == f"py-{i}"]
    seen["many"].append({"id": events[0].job_id, "text": check_order(events, 2 + i, f"py-{i}")})

# A StreamJobs refusal by a tenant quota says what SubmitJob's ErrorInfo and x-ratelimit trailers say, as fields: the
# quota, and where the tenant stands against each per-minute quota it has, to pace what follows (a tenant allowed one
# request a minute and no tokens quota).
paced = list(multiplexed(iter([pb.StreamJobsRequest(ref=f"paced-{i}", job=pb.SubmitJobRequest(model=model, prompt=f"Paced {i}", max_tokens=2))
                               for i in range(2)]), metadata=auth(os.environ["PACED_API_KEY"]), timeout=60))
over = [m.refused for m in paced if m.WhichOneof("kind") == "refused"]
expect(len(over) == 1, f"one of two submissions refused at one request a minute, got {over}")
expect((over[0].code, over[0].reason, dict(over[0].metadata)) == (grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], "RATE_LIMIT_EXCEEDED",
                                                                  {"quota": "requests_per_minute", "limit": "1"}),
       f"RESOURCE_EXHAUSTED RATE_LIMIT_EXCEEDED naming requests_per_minute and its limit, got {over[0]}")
expect(over[0].HasField("requests") and not over[0].HasField("tokens"), f"the requests quota's standing only, got {over[0]}")
expect((over[0].requests.limit, over[0].requests.remaining) == (1, 0) and 0 < over[0].retry_after_ms <= 60_000
       and 0 < over[0].requests.reset_ms <= 60_000, f"1 a minute, none left, whole again within a minute, got {over[0]}")
seen["paced"] = {"limit": over[0].requests.limit, "remaining": over[0].requests.remaining, "reset_ms": over[0].requests.reset_ms}

long = unary("SubmitJob", pb.SubmitJobRequest(model=model, prompt="A long one to cancel", max_tokens=500,
                                              priority=pb.PRIORITY_SHEDDABLE), pb.Job)
cancelled = unary("CancelJob", pb.CancelJobRequest(job_id=long.job_id), pb.Job)
expect(cancelled.status in (pb.JOB_STATUS_CANCELLED, pb.JOB_STATUS_CANCELLING, pb.JOB_STATUS_COMPLETED), f"a cancelled job, got {cancelled.status}")
seen["cancelled"] = {"id": long.job_id}

started = time.monotonic()
try:
    stream("StreamJob", pb.SubmitJobRequest(model=model, prompt="No time for this", max_tokens=500), timeout=0.05)
    raise AssertionError("expected DEADLINE_EXCEEDED for a 50 ms deadline")
except grpc.RpcError as err:
    expect(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"DEADLINE_EXCEEDED, got {err.code()}")
expect(time.monotonic() - started < 5, "the deadline to end the call promptly")

seen["errors"] = [
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model=model, prompt="hi", max_tokens=5), pb.Job, key=""),
            grpc.StatusCode.UNAUTHENTICATED, "missing 'authorization"),
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model="no-such-model", prompt="hi", max_tokens=5), pb.Job),
            grpc.StatusCode.NOT_FOUND, "model 'no-such-model'", ("model", "no-such-model")),
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model=model, prompt="hi", max_tokens=0), pb.Job),
            grpc.StatusCode.INVALID_ARGUMENT, "max_tokens"),
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model=model, prompt="hi", max_tokens=5, temperature=3), pb.Job),
            grpc.StatusCode.INVALID_ARGUMENT, "temperature"),
    refusal(lambda: unary("GetJob", pb.GetJobRequest(job_id="job-that-does-not-exist"), pb.Job),
            grpc.StatusCode.NOT_FOUND, "job 'job-that-does-not-exist'", ("job", "job-that-does-not-exist")),
    # A valid key of the wrong kind is no failed authentication: the caller is told which kind this service wants.
    refusal(lambda: unary("GetJob", pb.GetJobRequest(job_id="job-x"), pb.Job, key=os.environ["ADMIN_KEY"]),
            grpc.StatusCode.PERMISSION_DENIED, "InferenceService needs a tenant's API key"),
    refusal(lambda: unary("GetJob", pb.GetJobRequest(job_id="job-x"), pb.Job, scheme="Basic "),
            grpc.StatusCode.UNAUTHENTICATED, "malformed 'authorization' metadata"),
    # The key of the first submission, with another prompt.
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model=model, prompt="Another request", max_tokens=5,
                                                           idempotency_key="grpc-python-submit"), pb.Job),
            grpc.StatusCode.ALREADY_EXISTS, "idempotency_key", reason="IDEMPOTENCY_KEY_REUSED"),
    # A key the OpenAI door's Idempotency-Key header could not carry: keys are visible ASCII at both doors.
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model=model, prompt="hi", max_tokens=5, idempotency_key="nul\0key"), pb.Job),
            grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key"),
    # A long name is echoed cut to 64 UTF-16 units, before an emoji that would straddle the cut, never inside it.
    refusal(lambda: unary("SubmitJob", pb.SubmitJobRequest(model="m" * 63 + "\U0001F600", prompt="hi", max_tokens=5), pb.Job),
            grpc.StatusCode.NOT_FOUND, "model '" + "m" * 63 + "\u2026'", ("model", "m" * 63 + "\u2026")),
]

# gRPC's health service, for the whole server and by service name, as client-side health checking asks it.
seen["health"] = {}
for name in ("", "scheduler.v1.InferenceService"):
    status = unary("Check", health.HealthCheckRequest(service=name), health.HealthCheckResponse, key="",
                   service="/grpc.health.v1.Health/").status
    expect(status == health.HealthCheckResponse.SERVING, f"health of '{name}' SERVING, got {status}")
    seen["health"][name] = "SERVING"

print(json.dumps(seen))
channel.close()
