"""Starts the real ghostserve binary and calls Generate and Evaluate from Python (Debian's
python3-grpcio) with stubs generated from proto/, then stops the server with SIGTERM and expects
exit 0.

Usage: generate_check.py SERVER_BINARY MODEL_ROOT STUBS_DIR CLIENT_DIR
"""
import math
import os
import re
import signal
import subprocess
import sys
import tempfile


def start_server(binary, model_root, data_dir, extra_flags=()):
    process = subprocess.Popen(
        [binary, "--host=127.0.0.1", "--port=0", "--metrics_port=0",
         f"--model_root={model_root}", f"--data_dir={data_dir}", *extra_flags],
        stderr=subprocess.PIPE, text=True)
    port = None
    for line in process.stderr:
        match = re.search(r"gRPC on [0-9.]+:(\d+)", line)
        if match:
            port = int(match.group(1))
        if " ready" in line:
            return process, port
    raise RuntimeError("ghostserve exited before becoming ready")


def main():
    binary, model_root, stubs_dir, client_dir = sys.argv[1:5]
    sys.path[:0] = [stubs_dir, client_dir]
    import ghost_client  # noqa: E402  (needs the paths above)

    data_dir = tempfile.TemporaryDirectory(prefix="ghost_python_data_")
    process, port = start_server(binary, model_root, data_dir.name)
    try:
        chunks = list(ghost_client.generate(f"127.0.0.1:{port}", "The President said",
                                            max_new_tokens=12, temperature=0.0))
        tokens = sum(len(c.token_ids) for c in chunks)
        text = "".join(c.text for c in chunks)
        last = chunks[-1]
        assert tokens == last.usage.completion_tokens, (tokens, last.usage)
        assert last.finish_reason in ("length", "stop"), last.finish_reason
        assert last.usage.prompt_tokens == len("The President said".encode()), last.usage
        assert all(not c.finish_reason for c in chunks[:-1])
        print(f"python client: {tokens} tokens, finish_reason={last.finish_reason}, "
              f"text={text!r}")

        # 2,048 bytes in the default windows of 1,024: each predicts 1,023.
        with open(os.path.join(model_root, "ghost-small", "validation-sample.txt"), "rb") as f:
            sample = f.read(2048)
        result = ghost_client.evaluate(f"127.0.0.1:{port}", sample)
        assert (result.model, result.window, result.bytes_predicted) == ("ghost-small", 1024, 2046), result
        assert math.isfinite(result.bits_per_byte) and 0.5 < result.bits_per_byte < 8, result
        print(f"python client: evaluate {result.bits_per_byte:.4f} bits per byte")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        data_dir.cleanup()
    assert code == 0, f"ghostserve exited with {code}"
    print("2 passed, 0 failed")


if __name__ == "__main__":
    main()
