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
