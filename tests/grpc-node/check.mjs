// Drives the scheduler's gRPC InferenceService from Node with @grpc/grpc-js, the protos loaded from protos/ at run time
// as a client in another language would; run by the C# test GrpcNodeClientTests against a live silo. Environment:
// GRPC_ADDRESS (host:port), API_KEY, MODEL. Prints one JSON line with what it saw (the C# test checks the jobs over its
// own client); any failed expectation exits non-zero.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import loader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
const protos = path.join(here, '..', '..', 'protos');
const definition = loader.loadSync(path.join(protos, 'scheduler', 'v1', 'inference.proto'), {
  keepCase: false, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protos],
});
const { InferenceService } = grpc.loadPackageDefinition(definition).scheduler.v1;
const client = new InferenceService(process.env.GRPC_ADDRESS, grpc.credentials.createInsecure());
const model = process.env.MODEL;

function expect(condition, what) {
  if (!condition) {
    throw new Error(`expected ${what}`);
  }
}

function auth(key = process.env.API_KEY) {
  const metadata = new grpc.Metadata();
  if (key !== null) {
    metadata.set('authorization', `Bearer ${key}`);
  }
  return metadata;
}

function unary(method, request, metadata = auth(), options = {}) {
  return new Promise((resolve, reject) => client[method](request, metadata, options, (err, reply) => (err ? reject(err) : resolve(reply))));
}

// Collects a server stream's events; resolves with them, or with the error that ended the stream.
function stream(method, request, metadata = auth(), options = {}) {
  return new Promise((resolve) => {
    const events = [];
    const call = client[method](request, metadata, options);
    call.on('data', (event) => events.push(event));
    call.on('error', (error) => resolve({ events, error }));
    call.on('end', () => resolve({ events, error: null }));
  });
}

// A refusal: its status code and message, which must start with the field it names.
async function refusal(call, code, field) {
  try {
    await call();
  } catch (err) {
    expect(err.code === code, `status ${code} for ${field}, got ${err.code} (${err.details})`);
    expect(err.details.startsWith(field), `a message naming ${field}, got '${err.details}'`);
    return { code: err.code, details: err.details };
  }
  throw new Error(`expected status ${code} for ${field}`);
}

const seen = {};

const submitted = await unary('submitJob', { model, prompt: 'Hello from grpc-js', maxTokens: 5, idempotencyKey: 'grpc-node-submit' });
expect(submitted.status === 'JOB_STATUS_QUEUED' || submitted.status === 'JOB_STATUS_RUNNING', `a queued job, got ${submitted.status}`);
const again = await unary('submitJob', { model, prompt: 'Hello from grpc-js', maxTokens: 5, idempotencyKey: 'grpc-node-submit' });
expect(again.jobId === submitted.jobId, 'the same job for the same idempotency key');
seen.submitted = submitted.jobId;

const streamed = await stream('streamJob', { model, prompt: 'Stream me from grpc-js', maxTokens: 12, priority: 'PRIORITY_CRITICAL' });
expect(streamed.error === null, `a stream that ends well, got ${streamed.error?.details}`);
const kinds = streamed.events.map((e) => e.event);
expect(kinds[0] === 'queued', `queued first, got ${kinds[0]}`);
expect(kinds.indexOf('admitted') > 0 && kinds.indexOf('admitted') < kinds.indexOf('tokens'), 'admitted before the first tokens');
expect(kinds.at(-1) === 'completed', `completed last, got ${kinds.at(-1)}`);
let next = 0;
let text = '';
for (const e of streamed.events.filter((e) => e.event === 'tokens')) {
  expect(e.tokens.firstTokenIndex === next, `token ${next} next, got ${e.tokens.firstTokenIndex}`);
  next += e.tokens.tokenCount;
  text += e.tokens.text;
}
const completed = streamed.events.at(-1).completed;
expect(completed.usage.completionTokens === 12 && next === 12, `12 tokens, got ${next} streamed and ${completed.usage.completionTokens} in usage`);
seen.streamed = { id: streamed.events[0].jobId, text, tokens: next, events: kinds.length, finishReason: completed.finishReason };

const fetched = await unary('getJob', { jobId: seen.streamed.id });
expect(fetched.status === 'JOB_STATUS_COMPLETED' && fetched.output === text, 'GetJob to give the streamed job, completed, with its text');

const long = await unary('submitJob', { model, prompt: 'A long one to cancel', maxTokens: 500, priority: 'PRIORITY_SHEDDABLE' });
const cancelled = await unary('cancelJob', { jobId: long.jobId });
expect(['JOB_STATUS_CANCELLED', 'JOB_STATUS_CANCELLING', 'JOB_STATUS_COMPLETED'].includes(cancelled.status), `a cancelled job, got ${cancelled.status}`);
seen.cancelled = { id: long.jobId, status: cancelled.status };

// StreamJobs: several jobs over one bidirectional call, each event under its submission's ref; a bad submission is
// refused on the call (its code and a message naming the field) and the others go on; the call ends once all have.
const many = await new Promise((resolve) => {
  const messages = [];
  const call = client.streamJobs(auth());
  call.on('data', (message) => messages.push(message));
  call.on('error', (error) => resolve({ messages, error }));
  call.on('end', () => resolve({ messages, error: null }));
  for (let i = 0; i < 5; i++) {
    call.write({ ref: `node-${i}`, job: { model, prompt: `Many from grpc-js ${i}`, maxTokens: 3 + i } });
  }
  call.write({ ref: 'node-bad', job: { model, prompt: 'hi', maxTokens: 0 } });
  call.end();
});
expect(many.error === null, `a StreamJobs call that ends well, got ${many.error?.details}`);
const bad = many.messages.filter((m) => m.ref === 'node-bad');
expect(bad.length === 1 && bad[0].kind === 'refused', `one refusal for node-bad, got ${JSON.stringify(bad)}`);
expect(bad[0].refused.code === grpc.status.INVALID_ARGUMENT && bad[0].refused.message.startsWith('max_tokens')
  && bad[0].refused.field === 'max_tokens',
  `INVALID_ARGUMENT naming max_tokens, got ${bad[0].refused.code} '${bad[0].refused.message}' (field '${bad[0].refused.field}')`);
seen.many = [];
for (let i = 0; i < 5; i++) {
  const events = many.messages.filter((m) => m.ref === `node-${i}`).map((m) => m.event);
  expect(events.length > 0 && events.every((e) => e.jobId === events[0].jobId), `node-${i}'s events all of one job`);
  expect(events[0].event === 'queued' && events.at(-1).event === 'completed', `node-${i}: queued first and completed last`);
  let tokens = 0;
  let manyText = '';
  for (const e of events.filter((e) => e.event === 'tokens')) {
    expect(e.tokens.firstTokenIndex === tokens, `node-${i}: token ${tokens} next, got ${e.tokens.firstTokenIndex}`);
    tokens += e.tokens.tokenCount;
    manyText += e.tokens.text;
  }
  expect(tokens === 3 + i, `node-${i}: ${3 + i} tokens, got ${tokens}`);
  seen.many.push({ id: events[0].jobId, text: manyText, tokens });
}

const tooLate = await stream('streamJob', { model, prompt: 'No time for this', maxTokens: 500 }, auth(), { deadline: Date.now() + 50 });
expect(tooLate.error?.code === grpc.status.DEADLINE_EXCEEDED, `DEADLINE_EXCEEDED for a 50 ms deadline, got ${tooLate.error?.code}`);

seen.errors = [
  await refusal(() => unary('submitJob', { model, prompt: 'hi', maxTokens: 5 }, auth(null)), grpc.status.UNAUTHENTICATED, "missing 'authorization"),
  await refusal(() => unary('submitJob', { model, prompt: 'hi', maxTokens: 5 }, auth('not-a-key')), grpc.status.UNAUTHENTICATED, 'invalid API key'),
  await refusal(() => unary('submitJob', { model: 'no-such-model', prompt: 'hi', maxTokens: 5 }), grpc.status.NOT_FOUND, "model 'no-such-model'"),
  await refusal(() => unary('submitJob', { model, prompt: '', maxTokens: 5 }), grpc.status.INVALID_ARGUMENT, 'prompt'),
  await refusal(() => unary('submitJob', { model, prompt: 'hi', maxTokens: 0 }), grpc.status.INVALID_ARGUMENT, 'max_tokens'),
  await refusal(() => unary('submitJob', { model, prompt: 'hi', maxTokens: 5, priority: 99 }), grpc.status.INVALID_ARGUMENT, 'priority'),
  await refusal(() => unary('submitJob', { model, promptTokenIds: [-1, 5], maxTokens: 5 }), grpc.status.INVALID_ARGUMENT, 'prompt_token_ids'),
  await refusal(() => unary('submitJob', { model, messages: [{ role: 'robot', content: 'hi' }], maxTokens: 5 }), grpc.status.INVALID_ARGUMENT, 'messages[0].role'),
  await refusal(() => unary('getJob', { jobId: 'job-that-does-not-exist' }), grpc.status.NOT_FOUND, "job 'job-that-does-not-exist'"),
  await refusal(() => unary('listJobs', { pageSize: 100000 }), grpc.status.INVALID_ARGUMENT, 'page_size'),
];

console.log(JSON.stringify(seen));
client.close();
