"""A minimal Python client for ghostserve: streams a Generate call and prints the text.

Generate the stubs first (`make python-stubs` writes them to build/python), then:
    PYTHONPATH=build/python /usr/bin/python3 clients/python/ghost_client.py "The President said"
"""
import argparse
import sys

import grpc

from ghost.v1 import inference_pb2, inference_pb2_grpc


def generate(address, prompt, max_new_tokens, temperature, token=None, timeout=60):
    """Yields GenerateResponse messages of one streaming Generate call."""
    channel = grpc.insecure_channel(address)
    stub = inference_pb2_grpc.InferenceStub(channel)
    request = inference_pb2.GenerateRequest(
        text=prompt,
        sampling=inference_pb2.SamplingParams(temperature=temperature),
        stopping=inference_pb2.StoppingCriteria(max_new_tokens=max_new_tokens),
    )
    metadata = [("authorization", f"Bearer {token}")] if token else None
    yield from stub.Generate(request, timeout=timeout, metadata=metadata)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt")
    parser.add_argument("--address", default="localhost:50051")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    sys.stdout.write(args.prompt)
    for chunk in generate(args.address, args.prompt, args.max_new_tokens, args.temperature,
                          args.token):
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
        if chunk.finish_reason:
            sys.stdout.write(f"\n[finish_reason={chunk.finish_reason} "
                             f"completion_tokens={chunk.usage.completion_tokens}]\n")


if __name__ == "__main__":
    main()
