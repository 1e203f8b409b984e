"""Starts the real ghostserve binary with mutual TLS, certificates made here with openssl, and
calls Generate from the Python client with its tls_* options: with the client certificate the
call succeeds; without it, or over plaintext, the server refuses it.

Usage: tls_check.py SERVER_BINARY MODEL_ROOT STUBS_DIR CLIENT_DIR
"""
import os
import signal
import subprocess
import sys
import tempfile

from generate_check import start_server


def make_certificates(d):
    """A CA, a server certificate for localhost / 127.0.0.1 and a client certificate."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(f"{d}/server.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    with open(f"{d}/client.ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
    run("req", "-x509", *key, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2",
        "-subj", "/CN=ghost-python-test-ca")
    for leaf in ("server", "client"):
        run("req", *key, "-keyout", f"{d}/{leaf}.key", "-out", f"{d}/{leaf}.csr",
            "-subj", f"/CN={leaf}")
        run("x509", "-req", "-in", f"{d}/{leaf}.csr", "-CA", f"{d}/ca.pem", "-CAkey",
            f"{d}/ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{d}/{leaf}.ext",
            "-out", f"{d}/{leaf}.pem")


def main():
    binary, model_root, stubs_dir, client_dir = sys.argv[1:5]
    sys.path[:0] = [stubs_dir, client_dir]
    import grpc  # noqa: E402
    import ghost_client  # noqa: E402  (needs the paths above)

    certs = tempfile.TemporaryDirectory(prefix=f"ghost_python_tls_{os.getpid()}_")
    data_dir = tempfile.TemporaryDirectory(prefix=f"ghost_python_tls_data_{os.getpid()}_")
    d = certs.name
    make_certificates(d)
    process, port = start_server(
        binary, model_root, data_dir.name,
        [f"--tls_cert={d}/server.pem", f"--tls_key={d}/server.key", f"--tls_client_ca={d}/ca.pem"])
    address = f"127.0.0.1:{port}"
    passed = 0
    try:
        chunks = list(ghost_client.generate(address, "Hello", max_new_tokens=4, temperature=0.0,
                                            tls_ca=f"{d}/ca.pem", tls_cert=f"{d}/client.pem",
                                            tls_key=f"{d}/client.key",
                                            tls_server_name="localhost"))
        assert chunks[-1].usage.completion_tokens == 4, chunks[-1].usage
        passed += 1
        refused = [
            dict(tls_ca=f"{d}/ca.pem", tls_server_name="localhost"),  # no client certificate
            dict(),  # plaintext
        ]
        for tls in refused:
            try:
                list(ghost_client.generate(address, "Hello", max_new_tokens=4, temperature=0.0,
                                           timeout=20, **tls))
                raise AssertionError(f"the server accepted a call with {tls}")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE, (tls, error.code())
            passed += 1
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        data_dir.cleanup()
        certs.cleanup()
    assert code == 0, f"ghostserve exited with {code}"
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
