// Package devstack runs the whole gateway on this machine: dynalite with its
// data under .dev/, the tables, a seeded demo workspace with one inference and
// one management key, and the API served by the API Gateway emulator from
// template.yaml. It is what `make dev` starts (docs/architecture.md §9).
package devstack
