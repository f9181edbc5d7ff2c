// Package keyformat generates, parses and verifies the text of API keys:
//
//	aistats_v1_<kind>_<kid>_<secret>
//
// kind is "sk" (inference) or "mk" (management); kid is 12 base62 characters
// and public; secret is 40 random base62 characters followed by a 6-character
// base62 CRC32 of everything before it (docs/architecture.md §3). The checksum lets the
// authorizer reject mistyped or forged keys without a database call, and lets
// secret scanners recognise a leaked key.
//
// Only the SHA-256 digest of the secret is ever stored. A parsed Token prints
// itself without its secret, so a key that slips into a log line stays safe.
package keyformat
