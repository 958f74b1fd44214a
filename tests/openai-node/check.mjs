// Drives the scheduler's OpenAI-compatible API with the official `openai` npm package; run by the C# test
// OpenAiNodeClientTests against a live silo. Environment: OPENAI_BASE_URL (…/v1), OPENAI_API_KEY, MODEL, SLASHED_MODEL
// (a model whose id has a slash, which the package escapes in the path), and CHAT=1 to include chat completions. Prints
// one JSON line with what it saw (the C# test checks the job ids over gRPC); any failed expectation exits non-zero.
import OpenAI from 'openai';

const model = process.env.MODEL;
const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY, maxRetries: 0 });

function expect(condition, what) {
  if (!condition) {
    throw new Error(`expected ${what}`);
  }
}

async function expectError(call, status, param, code) {
  try {
    await call();
  } catch (err) {
    expect(err instanceof OpenAI.APIError, `an APIError, got ${err}`);
    expect(err.status === status, `status ${status}, got ${err.status}`);
    expect(err.param === param, `param ${param}, got ${err.param}`);
    expect(err.code === code, `code ${code}, got ${err.code}`);
    return { status: err.status, type: err.type, param: err.param, code: err.code };
  }
  throw new Error(`expected an error ${status}`);
}

const seen = {};

const models = [];
for await (const m of client.models.list()) {
  models.push(m.id);
}
expect(models.includes(model), `${model} in the model list`);
seen.models = models;
for (const id of [model, process.env.SLASHED_MODEL]) {
  const retrieved = await client.models.retrieve(id);
  expect(retrieved.id === id && retrieved.object === 'model', `model ${id}, got ${JSON.stringify(retrieved)}`);
}

const completion = await client.completions.create({ model, prompt: 'Hello from node', max_tokens: 7 });
expect(completion.choices[0].finish_reason === 'length', 'finish_reason length');
expect(completion.usage.completion_tokens === 7, '7 completion tokens');
seen.completion = { id: completion.id, text: completion.choices[0].text };

const stream = await client.completions.create({ model, prompt: 'Stream from node', max_tokens: 20, stream: true, stream_options: { include_usage: true } });
let streamed = '';
let streamId;
let chunks = 0;
let usage;
for await (const chunk of stream) {
  streamId ??= chunk.id;
  chunks++;
  if (chunk.choices.length > 0) {
    streamed += chunk.choices[0].text;
  }
  usage = chunk.usage ?? usage;
}
expect(usage?.completion_tokens === 20, '20 completion tokens in the usage chunk');
seen.streamed = { id: streamId, text: streamed, chunks };

if (process.env.CHAT === '1') {
  const chat = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], max_completion_tokens: 6 });
  expect(chat.choices[0].message.role === 'assistant', 'an assistant message');
  seen.chat = { id: chat.id, text: chat.choices[0].message.content };

  const chatStream = await client.chat.completions.create({
    model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }], max_tokens: 12, stream: true,
  });
  let chatText = '';
  let chatId;
  for await (const chunk of chatStream) {
    chatId ??= chunk.id;
    chatText += chunk.choices[0]?.delta?.content ?? '';
  }
  seen.chatStreamed = { id: chatId, text: chatText };
}

const wrongKey = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: 'wrong-key', maxRetries: 0 });
seen.errors = [
  await expectError(() => wrongKey.completions.create({ model, prompt: 'x', max_tokens: 2 }), 401, null, 'invalid_api_key'),
  await expectError(() => client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 2 }), 404, 'model', 'model_not_found'),
  await expectError(() => client.completions.create({ model, prompt: 'x', max_tokens: 2, logprobs: 3 }), 400, 'logprobs', null),
  await expectError(() => client.completions.create({ model, prompt: 'x', max_tokens: 2, top_p: 1.5 }), 400, 'top_p', null),
];

console.log(JSON.stringify(seen));
