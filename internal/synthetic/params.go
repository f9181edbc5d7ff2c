package synthetic

// The generator's parameters: how often background nuisances occur and how
// large an injected anomaly is. They were written before the detector was
// tuned and are not changed to suit it. Each anomaly is sized as a person
// looking at the key's chart would call it an anomaly; where a type cannot
// be seen at all in some hours (a drop at night, when the key sends
// nothing), it is injected only where it could be seen, and that condition
// is stated here.

// Background nuisances, never labelled.
const (
	// An hour with a stray 401 (someone pasting an old key) or 403 (a
	// client trying a model it may not use once).
	strayRefusalChance = 0.01
	// An hour in which the upstream has a hiccup: the key's 5xx share is
	// multiplied by 2–5 (at most about 5 %).
	upstreamHiccupChance = 0.003
)

// Anomalies, by type.
const (
	// warmUpDays: anomalies that need a baseline are injected only after
	// two weeks of the key's normal traffic.
	warmUpDays = 14
	// minDaysApart keeps one key's anomalies apart, so that each is scored
	// on its own.
	minDaysApart = 2

	// traffic_spike: 1–4 hours in which the key serves 4–12 times its
	// expected traffic, and at least 150–600 more requests an hour (a
	// leaked key used by someone else adds traffic at their rate, not
	// the key's).
	spikeMinMult, spikeMaxMult   = 4.0, 12.0
	spikeMinExtra, spikeMaxExtra = 150.0, 600.0
	spikeMinHours, spikeMaxHours = 1, 4

	// traffic_drop: 3–8 hours at 0–10 % of the expected traffic (a client
	// broken by a deploy), starting in an hour where the key expects at
	// least dropMinExpected requests: a drop in an hour with nothing
	// expected is not visible.
	dropMaxShare               = 0.10
	dropMinHours, dropMaxHours = 3, 8
	dropMinExpected            = 60.0

	// error_rate_spike: 1–3 hours in which 20–80 % of served requests
	// fail 5xx (an upstream outage), in an hour with at least
	// errorMinExpected expected requests.
	errorMinRate, errorMaxRate   = 0.20, 0.80
	errorMinHours, errorMaxHours = 1, 3
	errorMinExpected             = 40.0

	// auth_failures: 1–3 hours with 40–300 wrong-secret refusals an hour
	// (a guessed or leaked kid).
	authMin, authMax           = 40, 300
	authMinHours, authMaxHours = 1, 3

	// access_denied_burst: 1–2 hours with 25–200 403s an hour (someone
	// probing models the key may not use).
	deniedMin, deniedMax           = 25, 200
	deniedMinHours, deniedMaxHours = 1, 2

	// rate_limit_storm: 1–3 hours with 150–3,000 429s an hour (a client
	// retrying in a loop).
	stormMin, stormMax           = 150, 3000
	stormMinHours, stormMaxHours = 1, 3

	// spend_spike: 2–6 hours in which spend is 6–20 times expected, and
	// at least $2–10 more an hour (long prompts on an expensive model),
	// with the same number of requests.
	spendMinMult, spendMaxMult         = 6.0, 20.0
	spendMinHours, spendMaxHours       = 2, 6
	spendMinExtraUSD, spendMaxExtraUSD = 2.0, 10.0

	// new_model: a model the key never used appears and stays, carrying
	// 5–30 % of the key's requests.
	newModelMinShare, newModelMaxShare = 0.05, 0.30

	// dormant_key_active: a key unused for 31–45 days starts again.
	dormantMinDays, dormantMaxDays = 31, 45
	// A key that was unused for 10–25 days and starts again is normal.
	returningMinDays, returningMaxDays = 10, 25
)

// newModels are models no profile uses: what a key adopts in new_model.
var newModels = []string{"openai/gpt-4.1", "anthropic/claude-opus-4", "google/gemini-2.5-pro", "openai/o4-mini"}
