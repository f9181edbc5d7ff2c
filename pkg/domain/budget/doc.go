// Package budget knows money and token budgets (docs/architecture.md §5,
// "Budgets and token limits"): dollars as integer micro-dollars, a model's
// price and what a request costs under it, the budget windows a key or a
// workspace may limit, and the worst case a request must reserve before its
// provider is called. It imports no infrastructure: the reservation itself
// is pkg/adapter/dynamo's.
package budget
