// Package archtest holds no code, only a test that enforces the import direction between
// contactstore's packages (DESIGN.md §7): crypto depends on the standard library,
// golang.org/x/crypto and internal/wire only; nothing imports cmd; internal packages never
// import store, cmd or bench; only store, bench and cmd use Pebble.
package archtest
