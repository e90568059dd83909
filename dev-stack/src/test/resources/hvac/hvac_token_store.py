"""Drives the Vault stand-in's token store with hvac, a Vault client nobody here wrote.

Run by HvacIT with /usr/bin/python3 and Debian's python3-hvac (0.11.2); needs VAULT_ADDR and a
root VAULT_TOKEN in the environment. Prints one line per check and exits non-zero on the first
answer that differs from what real Vault gives.
"""

import os
import sys

import hvac
from hvac import exceptions

ROLE = "hvac-issuer"
POLICY = "hvac-issue"


def check(condition, what):
    if not condition:
        print("FAILED: " + what, flush=True)
        sys.exit(1)
    print("ok: " + what, flush=True)


def expect_error(exception_type, call, text, what):
    try:
        call()
    except exception_type as e:
        check(text in str(e), what + " (" + type(e).__name__ + ": " + str(e).strip() + ")")
        return
    except Exception as e:  # noqa: BLE001 - report the wrong kind of failure, not a traceback
        check(False, what + ": expected " + exception_type.__name__ + ", got " + type(e).__name__ + ": " + str(e))
    check(False, what + ": expected " + exception_type.__name__ + ", got no error")


def main():
    client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
    check(client.is_authenticated(), "root token authenticates")
    # Served at the top level, outside the response envelope, as Vault's http package does.
    check(client.sys.is_initialized() is True, "sys.is_initialized")
    check(client.sys.is_sealed() is False, "sys.is_sealed")
    seal = client.sys.read_seal_status()
    check(seal["t"] == 1 and seal["version"] != "", "read_seal_status threshold and version")

    client.sys.create_or_update_policy(name=POLICY, policy='path "secret/hvac" { capabilities = ["read"] }')
    client.auth.token.create_or_update_role(ROLE, allowed_policies=[POLICY], orphan=True, renewable=False)

    role = client.auth.token.read_role(ROLE)["data"]
    check(role["allowed_policies"] == [POLICY], "read_role allowed_policies " + repr(role["allowed_policies"]))
    check(role["orphan"] is True and role["renewable"] is False, "read_role orphan and renewable")
    check(role["token_type"] == "default-service", "read_role token_type " + repr(role["token_type"]))
    check(ROLE in client.auth.token.list_roles()["data"]["keys"], "list_roles names the role")

    created = client.auth.token.create(role_name=ROLE, ttl="10m")
    auth = created["auth"]
    check(auth["policies"] == ["default", POLICY], "create(role_name) policies " + repr(auth["policies"]))
    check(auth["orphan"] is True, "create(role_name) token is an orphan")
    check(auth["renewable"] is False, "create(role_name) token is not renewable")
    check(599 <= auth["lease_duration"] <= 600, "create(role_name) lease_duration " + str(auth["lease_duration"]))
    accessor = auth["accessor"]
    issued = hvac.Client(url=os.environ["VAULT_ADDR"], token=auth["client_token"])
    check(issued.is_authenticated(), "issued token authenticates")

    keys = client.auth.token.list_accessors()["data"]["keys"]
    check(accessor in keys, "list_accessors names the new token's accessor among " + str(len(keys)))

    looked = client.auth.token.lookup_accessor(accessor)["data"]
    check(looked["id"] == "", "lookup_accessor hides the token id")
    check(looked["accessor"] == accessor, "lookup_accessor accessor")
    check(looked["path"] == "auth/token/create/" + ROLE, "lookup_accessor path " + repr(looked["path"]))
    check(looked["role"] == ROLE, "lookup_accessor role")
    check(looked["orphan"] is True, "lookup_accessor orphan")
    check(looked["policies"] == ["default", POLICY], "lookup_accessor policies")
    check(looked["display_name"] == "token-token", "lookup_accessor display_name " + repr(looked["display_name"]))
    check(looked["creation_ttl"] == 600, "lookup_accessor creation_ttl")
    check(0 < looked["ttl"] <= 600, "lookup_accessor ttl " + str(looked["ttl"]))
    check(looked["expire_time"], "lookup_accessor expire_time " + repr(looked["expire_time"]))
    check(looked["meta"] is None, "lookup_accessor meta")

    revoked = client.auth.token.revoke_accessor(accessor)
    check(revoked.status_code == 204, "revoke_accessor answers 204")
    expect_error(exceptions.InvalidRequest, lambda: client.auth.token.lookup_accessor(accessor),
                 "invalid accessor", "lookup_accessor after revoke_accessor")
    expect_error(exceptions.Forbidden, issued.auth.token.lookup_self, "permission denied",
                 "revoked token is refused")

    client.auth.token.delete_role(ROLE)
    expect_error(exceptions.InvalidPath, lambda: client.auth.token.read_role(ROLE), "",
                 "read_role after delete_role is 404")
    print("hvac-token-store: all checks passed", flush=True)


if __name__ == "__main__":
    main()
