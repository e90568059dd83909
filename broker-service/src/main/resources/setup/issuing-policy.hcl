# credential-broker: what an issuing token may do (written by the setup command). Issuing tokens
# create the credentials pods get, so every lease belongs to one of them and lives at most as long.
path "{{mount}}/creds/*" {
  capabilities = ["read"]
}
