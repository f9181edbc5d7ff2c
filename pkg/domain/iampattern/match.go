package iampattern

// Match reports whether s matches pattern, where * matches any run of
// characters (possibly empty, '/' and ':' included) and ? exactly one.
// It runs in O(len(pattern)·len(s)) at worst, without recursion or regular
// expressions, since the authorizer calls it on every request.
func Match(pattern, s string) bool {
	p, v := 0, 0
	// star is the position of the last * seen in pattern, and mark the
	// position in s it currently stands for the end of; on a mismatch the
	// star takes one more character and matching resumes after it.
	star, mark := -1, 0
	for v < len(s) {
		switch {
		// A * in the pattern is a wildcard even where s holds a literal *:
		// it must record its backtrack point, not be consumed as a letter.
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, v
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[v]):
			p++
			v++
		case star >= 0:
			p = star + 1
			mark++
			v = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
