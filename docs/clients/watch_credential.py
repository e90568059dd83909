#!/usr/bin/env python3
"""Holds a credential for one database role, as the Java SDK does: a walkthrough client in Python.

    python3 -m grpc_tools.protoc -I api-proto/src/main/proto --python_out=gen --grpc_python_out=gen \
        credbroker/v1/credential_broker.proto
    PYTHONPATH=gen python3 docs/clients/watch_credential.py --target broker:9090 --ca-file ca.crt db1

Prints one JSON line per credential (id and user name, never the password) and hands each new
credential to use_credential(). On SIGTERM or Ctrl-C it releases the credential, so the PostgreSQL
role is dropped at once, and exits 0. See docs/clients/README.md for what each step is for.
"""
import argparse
import json
import random
import signal
import sys
import threading
import time

import grpc

from credbroker.v1 import credential_broker_pb2 as pb
from credbroker.v1 import credential_broker_pb2_grpc as pb_grpc

# Codes after which the contract says "retry with backoff" (UNAUTHENTICATED: a few times only).
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED}
# Answers to a resume that mean "ask again without resume_credential_id".
RESUME_REFUSED = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND,
                  grpc.StatusCode.PERMISSION_DENIED}


class TokenFile(grpc.AuthMetadataPlugin):
    """Sends the pod's projected token on every call, re-read each time: the kubelet rotates it."""

    def __init__(self, path):
        self.path = path

    def __call__(self, context, callback):
        try:
            with open(self.path) as f:
                callback((("authorization", "Bearer " + f.read().strip()),), None)
        except OSError as e:
            callback((), e)


def use_credential(credential):
    """Where an application switches its pool to the new login. Return only once it did."""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("database_role")
    parser.add_argument("--target", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--token-file", default="/var/run/secrets/credbroker/token")
    args = parser.parse_args()

    with open(args.ca_file, "rb") as f:
        tls = grpc.ssl_channel_credentials(root_certificates=f.read())
    # TLS plus the token: grpc-python sends call credentials only over a secure channel.
    channel = grpc.secure_channel(args.target, grpc.composite_channel_credentials(
        tls, grpc.metadata_call_credentials(TokenFile(args.token_file))))
    stub = pb_grpc.CredentialBrokerStub(channel)

    stop = threading.Event()
    calls = []  # the stream in progress, so that SIGTERM can cancel it
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), [c.cancel() for c in calls]))
    signal.signal(signal.SIGINT, lambda *_: (stop.set(), [c.cancel() for c in calls]))

    current = None  # the credential in use, with its password; what a reconnect resumes
    resume = True
    failures = 0
    unauthenticated = 0
    while not stop.is_set():
        request = pb.WatchCredentialRequest(database_role=args.database_role)
        if current is not None and resume:
            request.resume_credential_id = current.credential_id
        stream = stub.WatchCredential(request)
        calls[:] = [stream]
        try:
            # No event, not even a heartbeat, for 2 minutes: presume the broker dead (not shown: a timer
            # that cancels the stream; grpc-python has no per-message deadline).
            for event in stream:
                failures = unauthenticated = 0
                kind = event.WhichOneof("event")
                if kind in ("issued", "rotated"):
                    credential = getattr(event, kind).credential
                    use_credential(credential)
                    current, resume = credential, True
                    print(json.dumps({"event": kind, "credential_id": credential.credential_id,
                                      "username": credential.username}), flush=True)
                    if kind == "rotated":
                        # Only now may the broker revoke the replaced credential.
                        stub.AcknowledgeRotation(pb.AcknowledgeRotationRequest(
                            credential_id=credential.credential_id), timeout=10, wait_for_ready=True)
                elif kind == "resumed":
                    # Same role, no password: keep using the one held.
                    print(json.dumps({"event": "resumed", "credential_id": current.credential_id}), flush=True)
                elif kind == "revoked" and current is not None \
                        and event.revoked.credential_id == current.credential_id:
                    print(json.dumps({"event": "revoked", "reason": event.revoked.reason}), flush=True)
                    current, resume = None, False
            code = grpc.StatusCode.UNAVAILABLE  # the broker ended the stream: it is going away
        except grpc.RpcError as e:
            code = e.code()
        if stop.is_set():
            break
        if request.resume_credential_id and code in RESUME_REFUSED:
            resume = False  # cannot be resumed: ask for a new credential at once
            continue
        if code == grpc.StatusCode.FAILED_PRECONDITION:
            resume = False  # CREDENTIAL_REVOKED: an operator revoked this one credential; ask anew
            continue
        if code == grpc.StatusCode.UNAUTHENTICATED:
            unauthenticated += 1
            if unauthenticated > 3:
                print(json.dumps({"event": "stopped", "code": code.name}), flush=True)
                return 2
        elif code not in RETRYABLE:
            # PERMISSION_DENIED (POD_REVOKED, NOT_BOUND), NOT_FOUND, INVALID_ARGUMENT: retrying cannot help.
            print(json.dumps({"event": "stopped", "code": code.name}), flush=True)
            return 2
        failures += 1
        delay = min(0.5 * 2 ** (failures - 1), 30.0) * random.uniform(0.8, 1.2)
        stop.wait(delay)

    if current is not None:
        # Release on exit: the role is revoked now instead of after the broker's reconnect grace.
        stub.ReleaseCredential(pb.ReleaseCredentialRequest(credential_id=current.credential_id), timeout=10)
        print(json.dumps({"event": "released", "credential_id": current.credential_id}), flush=True)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
