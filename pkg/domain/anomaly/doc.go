// Package anomaly finds what is unusual about one key's recent traffic
// (docs/architecture.md §10): spikes and drops against the key's own
// seasonal baseline, bursts of refusals, error-rate spikes, spend spikes, a
// model never used before, and a dormant key coming back to life.
//
// It is pure and storage-free: the detector function reads a key's hourly
// rollups (History) and returns findings (Detect). Storing findings,
// deduplicating them while open and alerting are the caller's work. It is
// run every few minutes on the hour in progress, so every count-based type
// compares counts so far with a whole hour's bound: a burst is reported as
// soon as it has exceeded what a whole normal hour would hold, not when the
// hour closes.
//
// Its quality is measured, not claimed: internal/synthetic generates
// labelled traffic and replays it through Detect (`make bench`).
package anomaly
