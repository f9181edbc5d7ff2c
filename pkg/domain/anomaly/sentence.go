package anomaly

import (
	"fmt"
	"math"
	"strconv"
)

// say starts a finding's sentence with the key.
func (v *view) say(format string, args ...any) string {
	return "Key " + v.h.KID + " " + fmt.Sprintf(format, args...)
}

// phrase names the window: "in the hour from 14:00 UTC" or, for the hour in
// progress, "between 14:00 and 14:25 UTC".
func (w window) phrase() string {
	if w.partial {
		return fmt.Sprintf("between %s and %s UTC", w.start.UTC().Format("15:04"), w.end.UTC().Format("15:04"))
	}
	return fmt.Sprintf("in the hour from %s UTC", w.start.UTC().Format("15:04"))
}

// wholeHour reminds the reader that a partial hour is compared with a
// whole hour's range.
func (w window) wholeHour() string {
	if w.partial {
		return " for the whole hour"
	}
	return ""
}

// count writes a count with thousands separators: 1,240.
func count(x float64) string {
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// usd writes micro-dollars as dollars and cents: $12.40.
func usd(micro float64) string {
	cents := int64(math.Round(micro / 1e4))
	return "$" + count(float64(cents/100)) + fmt.Sprintf(".%02d", cents%100)
}

func percent(rate float64) string {
	if rate < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*rate)
	}
	return fmt.Sprintf("%.0f%%", 100*rate)
}
