package synthetic

// TuningSeeds are the seeds the detector's thresholds were chosen on.
var TuningSeeds = []int64{1, 2, 3, 4, 5}

// HeldOutSeeds were fixed before any tuning and are only ever reported:
// nothing in pkg/domain/anomaly was changed after looking at them.
var HeldOutSeeds = []int64{1001, 1002, 1003, 1004, 1005}
