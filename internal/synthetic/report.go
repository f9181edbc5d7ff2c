package synthetic

import (
	"fmt"
	"strings"
)

// Markdown writes the report as the README's table.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seeds %v, %d keys, 35 days each, Detect run every %v\n\n", r.Seeds, r.Keys, Tick)
	b.WriteString("| type | injected | detected | findings (true / false) | precision | recall | median delay |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scores {
		fmt.Fprintf(&b, "| `%s` | %d | %d | %d / %d | %.2f | %.2f | %s |\n", s.Type, s.Labels, s.Detected,
			s.TruePositives, s.FalsePositives, s.Precision(), s.Recall(), delay(s))
	}
	return b.String()
}

func delay(s Score) string {
	if s.Detected == 0 {
		return "—"
	}
	return s.MedianDelay.String()
}
