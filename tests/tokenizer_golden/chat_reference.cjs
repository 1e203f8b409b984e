// Reference chat-template renderings from @huggingface/jinja (the JS Jinja that transformers.js
// renders chat templates with). Usage:
//   node chat_reference.cjs <dir holding node_modules> <conversations.json> <tokenizer_config.json>...
// Renders every conversation with every config's chat_template, the variables built as
// engine/tokenizer/chat_template.cc builds them (messages with role, content and, where given,
// name, tool_call_id, tool_calls; tools; add_generation_prompt; bos_token; eos_token; extra
// variables). Prints a JSON list of {config, conversation, output} or {..., error}.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [modulesDir, conversationsPath, ...configPaths] = process.argv.slice(2);
if (configPaths.length === 0) {
  console.error("usage: node chat_reference.cjs MODULES_DIR CONVERSATIONS_JSON CONFIG_JSON...");
  process.exit(2);
}
const requireFromModules = createRequire(path.join(path.resolve(modulesDir), "package.json"));
const { Template } = requireFromModules("@huggingface/jinja");

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const tokenText = (token) => (token && typeof token === "object" ? token.content : token) ?? "";
const conversations = readJson(conversationsPath);
const results = [];
for (const configPath of configPaths) {
  const config = readJson(configPath);
  const template = new Template(config.chat_template);
  for (const conversation of conversations) {
    const variables = { ...(conversation.variables ?? {}) };
    variables.messages = conversation.messages;
    if (conversation.tools) variables.tools = conversation.tools;
    variables.add_generation_prompt = conversation.add_generation_prompt;
    variables.bos_token = tokenText(config.bos_token);
    variables.eos_token = tokenText(config.eos_token);
    const result = { config: configPath, conversation: conversation.name };
    try {
      result.output = template.render(variables);
    } catch (e) {
      result.error = String(e.message);
    }
    results.push(result);
  }
}
process.stdout.write(JSON.stringify(results));
