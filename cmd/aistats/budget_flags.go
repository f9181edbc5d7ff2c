package main

import (
	"flag"
	"fmt"

	"github.com/aistats/edge/pkg/domain/budget"
)

// budgetFlagsUsage is the line the key and workspace usages share.
const budgetFlagsUsage = "[--tpm N] [--tpd N] [--cost-per-day USD] [--cost-per-month USD] [--cost USD]"

// budgetFlags declares the token and money limits on fs and returns what
// reads them once parsed: dollars as decimals of at most 6 places, as the
// management API takes them.
func budgetFlags(fs *flag.FlagSet) func() (budget.Limits, error) {
	tpm := fs.Int64("tpm", 0, "tokens per minute (0: unlimited)")
	tpd := fs.Int64("tpd", 0, "tokens per day (0: unlimited)")
	perDay := fs.String("cost-per-day", "0", "USD per UTC day, at most 6 decimals (0: unlimited)")
	perMonth := fs.String("cost-per-month", "0", "USD per UTC month (0: unlimited)")
	lifetime := fs.String("cost", "0", "USD over the whole life (0: unlimited)")
	return func() (budget.Limits, error) {
		if *tpm < 0 || *tpd < 0 {
			return budget.Limits{}, usageError{"--tpm and --tpd must not be negative"}
		}
		l := budget.Limits{TokensPerMinute: *tpm, TokensPerDay: *tpd}
		for _, f := range []struct {
			name string
			in   string
			out  *budget.MicroUSD
		}{{"--cost-per-day", *perDay, &l.CostPerDay}, {"--cost-per-month", *perMonth, &l.CostPerMonth}, {"--cost", *lifetime, &l.CostLifetime}} {
			v, err := budget.ParseUSD(f.in)
			if err != nil {
				return budget.Limits{}, usageError{fmt.Sprintf("%s %s", f.name, err)}
			}
			*f.out = v
		}
		return l, nil
	}
}
