// The official OpenAI SDK against a Ghost Serve HTTP endpoint. Run by server_openai_sdk_test:
//   node sdk_client.cjs <node_modules dir> <base URL> <api key> <model>
// Prints one JSON object with what each call returned; the test compares it with gRPC Generate.
'use strict';

const path = require('path');
const [modulesDir, baseURL, apiKey, model] = process.argv.slice(2);
const OpenAI = require(path.join(modulesDir, 'openai')).default;

const completion = {
  model,
  prompt: 'Once upon a time',
  max_tokens: 24,
  temperature: 0.9,
  seed: 1234,
};
const chat = {
  model,
  messages: [
    {role: 'system', content: 'You tell short stories.'},
    {role: 'user', content: 'Tell me about a fox.'},
  ],
  max_tokens: 32,
  temperature: 0.8,
  seed: 99,
  stop: ['\n\n', 'zz'],
};

// What an SDK error tells a caller: the HTTP status and OpenAI's error fields.
function describeError(error) {
  if (!(error instanceof OpenAI.APIError)) throw error;
  return {status: error.status, type: error.type, code: error.code, param: error.param,
          message: error.message, name: error.constructor.name};
}

async function expectError(call) {
  try {
    await call();
  } catch (error) {
    return describeError(error);
  }
  return null;
}

async function main() {
  const client = new OpenAI({baseURL, apiKey, maxRetries: 0, timeout: 120000});
  const result = {};

  const models = await client.models.list();
  result.models = models.data.map((m) => m.id);

  const plain = await client.completions.create(completion);
  result.completion = {text: plain.choices[0].text, finish_reason: plain.choices[0].finish_reason,
                       usage: plain.usage, object: plain.object};

  let streamedText = '';
  let streamedUsage = null;
  let finish = null;
  const stream = await client.completions.create(
      {...completion, stream: true, stream_options: {include_usage: true}});
  for await (const chunk of stream) {
    if (chunk.usage) streamedUsage = chunk.usage;
    for (const choice of chunk.choices) {
      streamedText += choice.text;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  result.completion_stream = {text: streamedText, finish_reason: finish, usage: streamedUsage};

  const chatPlain = await client.chat.completions.create(chat);
  result.chat = {text: chatPlain.choices[0].message.content,
                 role: chatPlain.choices[0].message.role,
                 finish_reason: chatPlain.choices[0].finish_reason, usage: chatPlain.usage,
                 object: chatPlain.object};

  let chatText = '';
  let chatFinish = null;
  let role = null;
  const chatStream = await client.chat.completions.create({...chat, stream: true});
  for await (const chunk of chatStream) {
    for (const choice of chunk.choices) {
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content) chatText += choice.delta.content;
      if (choice.finish_reason) chatFinish = choice.finish_reason;
    }
  }
  result.chat_stream = {text: chatText, role, finish_reason: chatFinish};

  result.unknown_model = await expectError(
      () => client.completions.create({...completion, model: 'no-such-model'}));
  result.n_two = await expectError(() => client.completions.create({...completion, n: 2}));
  const stranger = new OpenAI({baseURL, apiKey: 'wrong-key', maxRetries: 0});
  result.wrong_key = await expectError(() => stranger.models.list());

  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  process.stderr.write(`sdk_client: ${error.stack || error}\n`);
  process.exit(1);
});
