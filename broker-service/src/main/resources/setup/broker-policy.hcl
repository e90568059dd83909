# credential-broker: what the broker itself may do in Vault (written by the setup command).
# Create the tokens that create credentials: orphan, non-renewable, fixed lifetime, through the token
# role alone (its allowed policies decide what they may do), so that no credential depends on the
# broker's own login token.
path "auth/token/create/{{issuing_role}}" {
  capabilities = ["update"]
}

# Keep leases alive, look them up, and revoke them when a pod releases or is cut off. Vault lets any
# token with these capabilities act on any lease, whichever token created it.
path "sys/leases/renew" {
  capabilities = ["update"]
}

path "sys/leases/revoke" {
  capabilities = ["update"]
}

path "sys/leases/lookup" {
  capabilities = ["update"]
}

# Find leases nobody tracks: a credential Vault issued whose record never reached the state database
# (the write failed and so did the cleanup, or the replica died in between) is revoked by the
# broker's reconciliation. Vault protects listing leases with sudo; this grants it for the mount's
# credential leases only.
path "sys/leases/lookup/{{mount}}/creds/*" {
  capabilities = ["list", "sudo"]
}

# How far a credential may be renewed: a role's max_ttl and the mount's max lease TTL, read from the
# configuration instead of renewing a live lease to its maximum to learn it. Role definitions hold no
# secrets (the connection's password is under config/, which stays out of reach).
path "{{mount}}/roles/*" {
  capabilities = ["read"]
}

path "sys/mounts/{{mount}}/tune" {
  capabilities = ["read"]
}
