package budget

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// MicroUSD is an amount of US dollars in millionths of a dollar. Money is
// never a float here: sums of floats drift, and a budget compared against a
// drifted sum is not exact.
type MicroUSD int64

// MaxUSD bounds an amount a person may set: a billion dollars, far above any
// budget, far below where int64 micro-dollars overflow when summed.
const MaxUSD = 1_000_000_000

// ParseUSD reads a non-negative decimal amount of dollars with at most six
// decimals ("12", "0.25", "0.000001"). Exponents, signs, NaN and more
// decimals than a micro-dollar holds are refused rather than rounded, so
// that the amount a person set is the amount enforced.
func ParseUSD(s string) (MicroUSD, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || (hasDot && (frac == "" || !digits(frac))) {
		return 0, errors.New("must be a non-negative decimal number of dollars, such as 12.50")
	}
	if len(frac) > 6 {
		return 0, errors.New("has more than 6 decimals (a micro-dollar is the smallest amount)")
	}
	if len(whole) > 10 {
		return 0, errors.New("is more than the largest amount allowed")
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	if w > MaxUSD || (w == MaxUSD && f > 0) {
		return 0, errors.New("is more than the largest amount allowed")
	}
	return MicroUSD(w*1_000_000 + f), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String writes m as dollars with the decimals it needs ("0.25", "12").
func (m MicroUSD) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
		if v < 0 { // math.MinInt64 has no positive twin
			return strconv.FormatInt(math.MinInt64, 10)
		}
	}
	s := sign + strconv.FormatInt(v/1_000_000, 10)
	if frac := v % 1_000_000; frac != 0 {
		s += "." + strings.TrimRight(strconv.FormatInt(1_000_000+frac, 10)[1:], "0")
	}
	return s
}

// MarshalJSON writes m as a JSON number of dollars.
func (m MicroUSD) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number of dollars (or the same as a string),
// with ParseUSD's rules.
func (m *MicroUSD) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseUSD(s)
	if err != nil {
		return &AmountError{Reason: err.Error()}
	}
	*m = v
	return nil
}

// AmountError is a dollar amount that could not be read; its Reason ends a
// sentence that begins with the field's name.
type AmountError struct{ Reason string }

func (e *AmountError) Error() string { return e.Reason }
