// Runs the official Anthropic and OpenAI Node SDKs against a running gateway
// (the local stack, offline), as a user's program would: the Anthropic client
// on the gateway's root with our key as its API key, the OpenAI client on
// AISTATS_BASE_URL. It reads what .dev/credentials.env sets:
//
//   AISTATS_BASE_URL        http://127.0.0.1:PORT/v1
//   AISTATS_API_KEY         an inference key that may use local/*
//   AISTATS_MANAGEMENT_KEY  a management key, to create the keys the error
//                           checks need
//
// Each check prints "ok <name>" or "FAIL <name>: why"; the script exits 1
// if any failed, so the Go test around it (nodesdk_test.go) fails.

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const base = required('AISTATS_BASE_URL');
const apiKey = required('AISTATS_API_KEY');
const managementKey = required('AISTATS_MANAGEMENT_KEY');
// The Anthropic SDKs add /v1/messages themselves, so they get the root.
const root = base.replace(/\/v1\/?$/, '');
// The OpenAI SDKs add /responses to a base URL that already ends in /v1.
const openaiBase = base;

// maxRetries 0: a 429 is the answer under test, not something to wait out.
const anthropic = (key) => new Anthropic({ baseURL: root, apiKey: key, maxRetries: 0 });
const openai = new OpenAI({ baseURL: openaiBase, apiKey, maxRetries: 0 });

const params = {
  model: 'local/echo',
  max_tokens: 64,
  system: 'Echo the user.',
  messages: [{ role: 'user', content: 'hello from the node sdk' }],
};

let failed = 0;

await check('anthropic messages.create', async () => {
  const msg = await anthropic(apiKey).messages.create(params);
  expect(msg.type === 'message' && msg.role === 'assistant', `not an assistant message: ${JSON.stringify(msg)}`);
  expect(msg.content.length === 1 && msg.content[0].type === 'text', `content ${JSON.stringify(msg.content)}`);
  expect(msg.content[0].text === 'hello from the node sdk', `text ${JSON.stringify(msg.content[0].text)}, want the echo`);
  expect(msg.stop_reason === 'end_turn', `stop_reason ${msg.stop_reason}, want end_turn`);
  expect(msg.usage.input_tokens > 0 && msg.usage.output_tokens === 5, `usage ${JSON.stringify(msg.usage)}, want 5 output tokens`);
  expect(msg.model === 'local/echo', `model ${msg.model}`);
});

await check('anthropic messages.stream', async () => {
  const stream = anthropic(apiKey).messages.stream(params);
  const deltas = [];
  const events = [];
  stream.on('text', (text) => deltas.push(text));
  stream.on('streamEvent', (event) => events.push(event.type));
  const msg = await stream.finalMessage();
  expect(deltas.length >= 2 && deltas.join('') === 'hello from the node sdk',
    `deltas ${JSON.stringify(deltas)}, want the echo in several pieces`);
  expect(events[0] === 'message_start' && events.at(-2) === 'message_delta' && events.at(-1) === 'message_stop',
    `events ${events.join(' ')}`);
  expect(msg.content.length === 1 && msg.content[0].text === 'hello from the node sdk', `final content ${JSON.stringify(msg.content)}`);
  expect(msg.stop_reason === 'end_turn' && msg.usage.output_tokens === 5, `final stop ${msg.stop_reason}, usage ${JSON.stringify(msg.usage)}`);
});

await check('anthropic AuthenticationError for a bad key', async () => {
  const bad = apiKey.slice(0, -1) + (apiKey.endsWith('0') ? '1' : '0');
  await expectError(anthropic(bad).messages.create(params), Anthropic.AuthenticationError, 401, 'authentication_error');
});

await check('anthropic PermissionDeniedError for a model outside the allow-list', async () => {
  const key = await createKey({ name: 'node sdk: openai only', models: ['openai/*'] });
  await expectError(anthropic(key).messages.create(params), Anthropic.PermissionDeniedError, 403, 'permission_error');
});

await check('anthropic RateLimitError for a spent limit', async () => {
  const key = await createKey({ name: 'node sdk: one a minute', models: ['local/*'], limits: { requests_per_minute: 1 } });
  const client = anthropic(key);
  await client.messages.create(params);
  const err = await expectError(client.messages.create(params), Anthropic.RateLimitError, 429, 'rate_limit_error');
  expect(err.headers?.get('retry-after'), 'a 429 without Retry-After');
  // A stream is refused the same way, before its first event.
  await expectError(client.messages.stream(params).finalMessage(), Anthropic.RateLimitError, 429, 'rate_limit_error');
});

await check('openai responses.create', async () => {
  const resp = await openai.responses.create({ model: 'local/echo', input: 'hello from the responses api' });
  expect(resp.object === 'response' && resp.status === 'completed', `response ${resp.object} ${resp.status}`);
  expect(resp.output_text === 'hello from the responses api', `output_text ${JSON.stringify(resp.output_text)}`);
  expect(resp.usage.input_tokens > 0 && resp.usage.output_tokens === 5, `usage ${JSON.stringify(resp.usage)}`);
});

await check('openai responses.create, streamed', async () => {
  const stream = await openai.responses.create({ model: 'local/echo', input: 'hello from the responses api', stream: true });
  const types = [];
  let text = '';
  let completed;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  expect(types[0] === 'response.created' && types.at(-1) === 'response.completed', `events ${types.join(' ')}`);
  expect(types.filter((t) => t === 'response.output_text.delta').length >= 2, `events ${types.join(' ')}, want several deltas`);
  expect(text === 'hello from the responses api', `streamed text ${JSON.stringify(text)}`);
  expect(completed?.usage?.output_tokens === 5, `completed usage ${JSON.stringify(completed?.usage)}`);
});

if (failed > 0) {
  console.error(`${failed} check(s) failed`);
  process.exit(1);
}
console.log('all checks passed');

// check runs one named check and reports it; a throw is a failure.
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (err) {
    failed++;
    console.error(`FAIL ${name}: ${err?.stack ?? err}`);
  }
}

function expect(cond, why) {
  if (!cond) throw new Error(why);
}

// expectError awaits a call that must fail with the SDK's error class for
// status and, in the body, Anthropic's error type; it returns the error.
async function expectError(promise, cls, status, type) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  expect(err !== undefined, `succeeded; want ${cls.name}`);
  expect(err instanceof cls, `${err?.constructor?.name}: ${err?.message}; want ${cls.name}`);
  expect(err.status === status, `status ${err.status}, want ${status}`);
  expect(err.error?.type === 'error' && err.error?.error?.type === type && err.error.error.message,
    `body ${JSON.stringify(err.error)}, want {"type":"error","error":{"type":"${type}","message":…}}`);
  return err;
}

// createKey makes an inference key through the management API and returns
// its full text, which only this answer carries.
async function createKey(body) {
  const res = await fetch(`${base}/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${managementKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/keys answered ${res.status}: ${text}`);
  return JSON.parse(text).data.key;
}

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; run this through nodesdk_test.go, or after: set -a; . .dev/credentials.env; set +a`);
    process.exit(2);
  }
  return value;
}
