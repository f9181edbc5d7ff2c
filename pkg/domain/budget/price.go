package budget

// Price is what a model costs, in micro-dollars per million tokens: that is
// also dollars per token times 10^12, so a list price such as $0.075 per
// million tokens is the whole number 75,000 and no price is rounded.
type Price struct {
	Input       MicroUSD `json:"input"`
	Output      MicroUSD `json:"output"`
	CachedInput MicroUSD `json:"cached_input"`
	// Checked is the date (YYYY-MM-DD) the price was last compared with the
	// provider's own price page.
	Checked string `json:"checked"`
}

// Cost is what a request with these token counts costs, rounded up to the
// next micro-dollar: rounding each request up means a budget's settled sum is
// never below what the provider bills. cached is the part of prompt the
// provider served from its cache, billed at CachedInput.
func (p Price) Cost(prompt, completion, cached int64) MicroUSD {
	cached = min(max(cached, 0), max(prompt, 0))
	uncached := max(prompt, 0) - cached
	perMillion := uncached*int64(p.Input) + cached*int64(p.CachedInput) + max(completion, 0)*int64(p.Output)
	return MicroUSD((perMillion + 999_999) / 1_000_000)
}

// WorstCost is the most a request of at most prompt input tokens and
// completion output tokens can cost, whatever part of its prompt is cached.
func (p Price) WorstCost(prompt, completion int64) MicroUSD {
	in := max(p.Input, p.CachedInput)
	return MicroUSD((max(prompt, 0)*int64(in) + max(completion, 0)*int64(p.Output) + 999_999) / 1_000_000)
}
