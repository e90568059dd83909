-- Whether expire_time is what Vault granted to the current owner (its issue or a renewal it
-- recorded) since the credential last came to it by a resume: only then does the owner know that a
-- lease whose expire_time passed is gone in Vault, and it rotates or ends the credential without
-- the renewal Vault would refuse. A resume clears it (the replica that lost the credential may have
-- renewed it in Vault without recording it); rows from before this column count as not granted.
ALTER TABLE credential ADD COLUMN expiry_granted_to_owner boolean NOT NULL DEFAULT false;
