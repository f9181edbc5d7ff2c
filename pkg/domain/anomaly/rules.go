package anomaly

// The count-based checks and their thresholds. Each number was set for
// the reason beside it and checked on the benchmark's tuning seeds
// (internal/synthetic.TuningSeeds); the held-out seeds only report it.
//
// Shared by all five rules:
//   - sigmas 5: a key has 8,760 hours a year, so a bound that normal
//     noise crosses once in 10,000 hours would still alarm every key about
//     once a year; 5 sigmas is one in millions for near-normal noise.
//   - logSigmas 4: the same on the log scale. For a steady key (spread
//     0.15) it is under 2× and the ratio decides; for a bursty key
//     (spread 0.6) it is 11× the median. With 3.5, bursty keys' ordinary
//     5× hours fired on the tuning seeds (8 false spikes against 25 true).
//   - ratio 3: a spike is a multiple of normal, whatever the spread says.

// trafficSpike: served requests (429s and 403s excluded, which have their
// own types) beyond 5 sigmas, 3× the median and 100 more requests than
// usual in an hour. 100 requests is a few cents to a few dollars at
// today's prices: below that, a spike is not worth anyone's attention.
var trafficSpike = countRule{
	typ: TrafficSpike, metric: func(h Hour) float64 { return float64(h.Served()) },
	needsHistory: true, poisson: true, sigmas: 5, logSigmas: 4, ratio: 3, minExcess: 100,
	sentence: func(v *view, w window, observed, low, high float64) string {
		return v.say("received %s requests %s, against an expected %s–%s%s.",
			count(observed), w.phrase(), count(low), count(high), w.wholeHour())
	},
}

// spendSpike: spend beyond 5 sigmas, 3× the median and $1 more than usual
// in an hour. No Poisson floor: spend is money, not a count, and its noise
// comes from request sizes, which the MAD measures.
var spendSpike = countRule{
	typ: SpendSpike, metric: func(h Hour) float64 { return float64(h.CostMicroUSD) },
	needsHistory: true, sigmas: 5, logSigmas: 4, ratio: 3, minExcess: 1_000_000,
	sentence: func(v *view, w window, observed, low, high float64) string {
		return v.say("spent %s %s, against an expected %s–%s%s.",
			usd(observed), w.phrase(), usd(low), usd(high), w.wholeHour())
	},
}

// rateLimitStorm: 429s beyond 100 in an hour, and beyond the key's own
// seasonal level for keys that brush their limit every busy hour. 100 is
// more than a client backing off properly collects in an hour (a few per
// minute of overload), and far below a client retrying in a loop.
var rateLimitStorm = countRule{
	typ: RateLimitStorm, metric: func(h Hour) float64 { return float64(h.RateLimited) },
	poisson: true, sigmas: 5, logSigmas: 4, ratio: 3, minExcess: 100, floor: 100,
	sentence: func(v *view, w window, observed, low, high float64) string {
		return v.say("was refused %s requests for its rate limit (429) %s, against an expected %s–%s%s.",
			count(observed), w.phrase(), count(low), count(high), w.wholeHour())
	},
}

// authFailures: 20 refusals of the key's kid in an hour (wrong secret,
// revoked, disabled, expired). A person mistyping or pasting an old key
// makes a handful; a forgotten client with a revoked key about one an
// hour; 20 in an hour is a script. With the acceptance case of 50 wrong
// secrets, the finding comes after the 20th. A key that normally collects
// refusals is judged against its own level too.
var authFailures = countRule{
	typ: AuthFailures, metric: func(h Hour) float64 { return float64(h.AuthFailures) },
	poisson: true, sigmas: 5, logSigmas: 4, ratio: 3, minExcess: 20, floor: 20, minSeverity: SeverityMedium,
	sentence: func(v *view, w window, observed, low, high float64) string {
		return v.say("was refused %s times (wrong secret, revoked, disabled or expired) %s, against an expected %s–%s%s.",
			count(observed), w.phrase(), count(low), count(high), w.wholeHour())
	},
}

// accessDeniedBurst: 20 requests refused 403 in an hour, for models or
// providers the key may not use. A misconfigured client tries once or
// twice and is fixed; 20 is someone walking a list of models. The
// acceptance case of 30 fires after the 20th.
var accessDeniedBurst = countRule{
	typ: AccessDeniedBurst, metric: func(h Hour) float64 { return float64(h.AccessDenied) },
	poisson: true, sigmas: 5, logSigmas: 4, ratio: 3, minExcess: 20, floor: 20, minSeverity: SeverityMedium,
	sentence: func(v *view, w window, observed, low, high float64) string {
		return v.say("was refused %s requests for models or providers it may not use (403) %s, against an expected %s–%s%s.",
			count(observed), w.phrase(), count(low), count(high), w.wholeHour())
	},
}
