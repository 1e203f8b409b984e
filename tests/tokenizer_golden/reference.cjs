// Reference encodings from @huggingface/tokenizers (the official JS port of HF tokenizers).
// Usage: node reference.cjs <dir holding node_modules> <tokenizer.json> <tokenizer_config.json>
//                           <texts.json>
// texts.json is a JSON list of hex strings (the raw bytes of each text, so invalid UTF-8 can be
// passed); each is decoded with TextDecoder, which replaces invalid sequences with U+FFFD the
// way the Unicode standard recommends. Prints a JSON list with, per text: the replaced text
// (hex), ids (add_special_tokens false), ids_with_special (add_special_tokens true) and the
// decode of ids (hex, special tokens kept, no clean-up of spaces).
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [modulesDir, tokenizerPath, configPath, textsPath] = process.argv.slice(2);
if (!textsPath) {
  console.error("usage: node reference.cjs MODULES_DIR TOKENIZER_JSON CONFIG_JSON TEXTS_JSON");
  process.exit(2);
}
const requireFromModules = createRequire(path.join(path.resolve(modulesDir), "package.json"));
const { Tokenizer } = requireFromModules("@huggingface/tokenizers");

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const tokenizer = new Tokenizer(readJson(tokenizerPath), readJson(configPath));
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const toHex = (text) => Buffer.from(text, "utf8").toString("hex");

const results = readJson(textsPath).map((hex) => {
  const text = decoder.decode(Buffer.from(hex, "hex"));
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  const idsWithSpecial = tokenizer.encode(text, { add_special_tokens: true }).ids;
  const decoded =
    ids.length === 0 ? "" : tokenizer.decode(ids, { clean_up_tokenization_spaces: false });
  return { text: toHex(text), ids, ids_with_special: idsWithSpecial, decoded: toHex(decoded) };
});
process.stdout.write(JSON.stringify(results) + "\n");
