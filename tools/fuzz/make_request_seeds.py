"""Writes the request fuzzer's seeds (tests/server/request_fuzz/seeds) in the layout
tests/server/request_fuzzer.cc reads with FuzzedDataProvider: a Generate seed is the
generation_config.json text (ended by a backslash and one other byte), the GenerateRequest as
it goes on the wire, then from the end: the served context (3 bytes), the model's context
(3 bytes) and the selector byte 1; a Compress seed is the CompressRequest's wire bytes and the
selector byte 0.

Usage: PYTHONPATH=<python stubs of proto/> /usr/bin/python3 tools/fuzz/make_request_seeds.py DIR
"""
import json
import os
import sys

from ghost.v1 import compression_pb2, inference_pb2


def tail(value):
    """3 bytes FuzzedDataProvider reads back from the end as ConsumeIntegralInRange(1, 2^24)."""
    v = value - 1
    return bytes([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF])


def generate_seed(defaults, request, context, served):
    text = json.dumps(defaults).replace("\\", "\\\\").encode()
    return text + b"\\n" + request.SerializeToString() + tail(served) + tail(context) + b"\x01"


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    r = inference_pb2.GenerateRequest(model="ghost-tiny", request_id="seed-1", text="Hello")
    r.sampling.temperature = 0.7
    r.sampling.top_p = 0.9
    r.stopping.max_new_tokens = 16
    r.stopping.stop.append("\n\n")
    seeds["generate_text"] = generate_seed({"temperature": 0.8, "top_k": 50}, r, 2048, 512)
    r = inference_pb2.GenerateRequest(model="m")
    r.token_ids.ids.extend([256, 72, 105])
    r.stopping.stop_token_ids.append(257)
    r.logprobs = 3
    seeds["generate_ids"] = generate_seed({"do_sample": False, "max_new_tokens": 600}, r, 1024, 1024)
    r = inference_pb2.GenerateRequest(text="x" * 40)
    r.stopping.max_new_tokens = 2147483647
    seeds["generate_huge_max_new"] = generate_seed({}, r, 1 << 24, 64)
    c = compression_pb2.CompressRequest(model="ghost-tiny", output_model="ghost-tiny-t64",
                                        scheme="ternary", block_size=64, target_sparsity=0.4,
                                        calibration_text="Some calibration text.")
    seeds["compress"] = c.SerializeToString() + b"\x00"
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
