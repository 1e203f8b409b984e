"""A minimal Python client for ghostserve: streams a Generate call and prints the text.

compress() runs a compression job and follows it to the end; evaluate() scores a served model on
a text (bits per byte); see their docstrings.

Generate the stubs first (`make python-stubs` writes them to build/python), then:
    PYTHONPATH=build/python /usr/bin/python3 clients/python/ghost_client.py "The President said"
    PYTHONPATH=build/python /usr/bin/python3 clients/python/ghost_client.py --evaluate FILE

TLS: pass tls_ca (PEM CA file that signed the server's certificate), and for mutual TLS also
tls_cert and tls_key (the client's PEM certificate chain and key); tls_server_name when the
address does not carry the name in the server's certificate (e.g. 127.0.0.1).
"""
import argparse
import sys

import grpc

from ghost.v1 import compression_pb2, compression_pb2_grpc, inference_pb2, inference_pb2_grpc
from google.longrunning import operations_pb2, operations_pb2_grpc


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def open_channel(address, tls_ca=None, tls_cert=None, tls_key=None, tls_server_name=None):
    """A plaintext channel, or TLS when tls_ca or tls_cert is given (mutual TLS with tls_cert and
    tls_key; the system's CAs when tls_ca is not given)."""
    if not (tls_ca or tls_cert or tls_key):
        return grpc.insecure_channel(address)
    if bool(tls_cert) != bool(tls_key):
        raise ValueError("tls_cert and tls_key go together")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(tls_ca) if tls_ca else None,
        private_key=_read(tls_key) if tls_key else None,
        certificate_chain=_read(tls_cert) if tls_cert else None)
    options = [("grpc.ssl_target_name_override", tls_server_name)] if tls_server_name else None
    return grpc.secure_channel(address, credentials, options=options)


def generate(address, prompt, max_new_tokens, temperature, token=None, timeout=60, **tls):
    """Yields GenerateResponse messages of one streaming Generate call. `tls`: the keyword
    arguments of open_channel (tls_ca, tls_cert, tls_key, tls_server_name)."""
    channel = open_channel(address, **tls)
    stub = inference_pb2_grpc.InferenceStub(channel)
    request = inference_pb2.GenerateRequest(
        text=prompt,
        sampling=inference_pb2.SamplingParams(temperature=temperature),
        stopping=inference_pb2.StoppingCriteria(max_new_tokens=max_new_tokens),
    )
    metadata = [("authorization", f"Bearer {token}")] if token else None
    yield from stub.Generate(request, timeout=timeout, metadata=metadata)


def evaluate(address, text, model="", window=0, token=None, timeout=600, **tls):
    """Bits per byte of a served model on `text` (bytes, or str sent as UTF-8): an
    EvaluateResponse (bits_per_byte, bytes_predicted, model, window). `model` empty: the server's
    default; `window` 0: the server's default (1024, or the context served when shorter).
    `tls`: the keyword arguments of open_channel."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    channel = open_channel(address, **tls)
    metadata = [("authorization", f"Bearer {token}")] if token else None
    request = inference_pb2.EvaluateRequest(model=model, text=text, window=window)
    return inference_pb2_grpc.InferenceStub(channel).Evaluate(request, timeout=timeout,
                                                              metadata=metadata)


def compress(address, model, output_model, scheme="ternary", block_size=64, request_id="",
             token=None, wait_seconds=1, **tls):
    """Starts a compression job and yields (operation, metadata) after every WaitOperation
    call until the job is done; the last operation holds a CompressResponse or an error.

        for op, meta in compress("localhost:50051", "ghost-tiny", "ghost-tiny-t64"):
            print(meta.phase, meta.percent)
        result = compression_pb2.CompressResponse()
        op.response.Unpack(result)

    `tls`: the keyword arguments of open_channel.
    """
    channel = open_channel(address, **tls)
    metadata = [("authorization", f"Bearer {token}")] if token else None
    request = compression_pb2.CompressRequest(model=model, output_model=output_model,
                                              scheme=scheme, block_size=block_size,
                                              request_id=request_id)
    operation = compression_pb2_grpc.CompressionStub(channel).Compress(
        request, timeout=60, metadata=metadata)
    operations = operations_pb2_grpc.OperationsStub(channel)
    while True:
        progress = compression_pb2.CompressMetadata()
        operation.metadata.Unpack(progress)
        yield operation, progress
        if operation.done:
            return
        wait = operations_pb2.WaitOperationRequest(name=operation.name)
        wait.timeout.seconds = wait_seconds
        operation = operations.WaitOperation(wait, timeout=wait_seconds + 30, metadata=metadata)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="?", help="text to continue (not with --evaluate)")
    parser.add_argument("--evaluate", metavar="FILE", help="print the model's bits per byte on FILE")
    parser.add_argument("--model", default="", help="served model (default: the server's)")
    parser.add_argument("--address", default="localhost:50051")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--token", default=None)
    parser.add_argument("--tls-ca", default=None, help="PEM CA file: connect over TLS")
    parser.add_argument("--tls-cert", default=None, help="PEM client certificate (mutual TLS)")
    parser.add_argument("--tls-key", default=None, help="PEM key of --tls-cert")
    parser.add_argument("--tls-server-name", default=None,
                        help="name in the server's certificate, if the address differs")
    args = parser.parse_args()
    tls = dict(tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
               tls_server_name=args.tls_server_name)
    if args.evaluate:
        result = evaluate(args.address, _read(args.evaluate), model=args.model, token=args.token, **tls)
        print(f"{result.model}: {result.bits_per_byte:.4f} bits per byte over "
              f"{result.bytes_predicted} bytes (window {result.window})")
        return
    if args.prompt is None:
        parser.error("give a prompt, or --evaluate FILE")
    sys.stdout.write(args.prompt)
    for chunk in generate(args.address, args.prompt, args.max_new_tokens, args.temperature,
                          args.token, **tls):
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
        if chunk.finish_reason:
            sys.stdout.write(f"\n[finish_reason={chunk.finish_reason} "
                             f"completion_tokens={chunk.usage.completion_tokens}]\n")


if __name__ == "__main__":
    main()
