// Prints what @huggingface/gguf (an independent parser) reads from a GGUF file, as JSON:
// every tensor's name, ggml type id and shape, and the scalar metadata (arrays as their length).
// Usage: node parse.mjs FILE.gguf   (run from the directory the package is installed in)
import { gguf } from "@huggingface/gguf";

const { metadata, tensorInfos } = await gguf(process.argv[2], { allowLocalFile: true });
const plain = (value) => (typeof value === "bigint" ? Number(value) : value);
const out = { metadata: {}, tensors: [] };
for (const [key, value] of Object.entries(metadata)) {
  out.metadata[key] = Array.isArray(value) ? { length: value.length } : plain(value);
}
for (const info of tensorInfos) {
  out.tensors.push({ name: info.name, type: info.dtype, shape: info.shape.map(plain) });
}
console.log(JSON.stringify(out));
