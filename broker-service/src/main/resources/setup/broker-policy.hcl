# credential-broker: what the broker itself may do in Vault (written by the setup command).
# Issue a dynamic PostgreSQL role for a pod.
path "{{mount}}/creds/*" {
  capabilities = ["read"]
}

# Keep leases alive, look them up, and revoke them when a pod releases or is cut off.
path "sys/leases/renew" {
  capabilities = ["update"]
}

path "sys/leases/revoke" {
  capabilities = ["update"]
}

path "sys/leases/lookup" {
  capabilities = ["update"]
}
