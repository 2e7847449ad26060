// Package crypto holds contactstore's key hierarchy and every cryptographic operation the
// store performs: root key providers, the sealed key vault, wrapping of per-customer data
// keys, record sealing, and keyed pseudonyms.
//
// It knows nothing of the store or of Pebble: it turns keys and bytes into keys and bytes.
//
// # Hierarchy
//
//	root key (KeyWrapper)     key file, Argon2id(passphrase) or an external KMS; never in the store
//	 └─ key vault             sealed under a fresh vault key that the root key wraps
//	     ├─ shard keys        N keys with a generation each; customer c lives in shard H(c) mod N
//	     │   └─ data keys     one random key per customer, wrapped under its shard key
//	     ├─ bucket keys       one per expiry bucket; a record's key needs its bucket's key
//	     └─ service keys      pseudonym key, index key, signing key, dictionary key
//
// # Algorithms
//
// Records are sealed with AES-256-GCM under a key derived per customer and expiry bucket
// (HMAC-SHA256 over the data key, keyed by the bucket key). GCM's 96-bit random nonces are
// safe for about 2^32 messages under one key; because every customer and bucket has its own
// key, one key seals one customer's contacts of one bucket, far below that bound, and
// AES-GCM runs at several GB/s with AES-NI. Everything that is sealed rarely and lives long —
// the vault, wrapped data keys — uses XChaCha20-Poly1305, whose 192-bit nonces have no
// practical limit. Pseudonyms are HMAC-SHA256 truncated to 128 bits.
//
// Every ciphertext binds its context as associated data (the Pebble key of a record; the
// pseudonym, shard and generation of a wrapped data key; the header of the vault), so a
// value moved to another place fails to open.
package crypto
