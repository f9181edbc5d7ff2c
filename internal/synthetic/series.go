package synthetic

import (
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// KeySeries is one key's generated hourly history and the anomalies
// injected into it.
type KeySeries struct {
	KID, WorkspaceID string
	Profile          string // the traffic profile it was drawn from, for reports
	// Hours are consecutive UTC hours, oldest first, zeros included.
	Hours []anomaly.Hour
	// LastUsedBefore and KnownModels describe the key before Hours[0], as
	// anomaly.History does.
	LastUsedBefore time.Time
	KnownModels    []string
	Labels         []Label

	key key // what the traffic was drawn from, for injecting anomalies
}

// Label is one injected anomaly: its type and the hours it spans.
type Label struct {
	Type anomaly.Type
	// Start is the first anomalous hour; End is the end of the last one.
	Start, End time.Time
	// Also lists the types this anomaly causes as a side effect (a traffic
	// spike also raises spend): a finding of such a type inside the window
	// is true but was not the point, so it counts neither for precision nor
	// for recall.
	Also []anomaly.Type
}

// overlaps reports whether [start, end) meets the label's hours.
func (l Label) overlaps(start, end time.Time) bool {
	return start.Before(l.End) && end.After(l.Start)
}
