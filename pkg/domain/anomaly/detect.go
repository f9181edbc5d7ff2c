package anomaly

// checks are every type's check, each returning at most one finding.
var checks = []func(*view) (Finding, bool){
	trafficSpike.check,
	trafficDrop,
	errorRateSpike,
	authFailures.check,
	accessDeniedBurst.check,
	rateLimitStorm.check,
	spendSpike.check,
	newModel,
	dormantKeyActive,
}

// Detect returns what is unusual about the key in the hour in progress or
// the last closed hour, at most one finding per type. It is pure: the same
// History gives the same findings, and calling it again in the same hour
// reports the same anomalies again, for the caller to deduplicate while
// they are open.
func Detect(h History) []Finding {
	v, ok := newView(h)
	if !ok {
		return nil
	}
	var out []Finding
	for _, check := range checks {
		if f, ok := check(v); ok {
			f.KID, f.WorkspaceID = h.KID, h.WorkspaceID
			out = append(out, f)
		}
	}
	return out
}
