//go:build race

package importers

// raceEnabled: the race detector makes TestMemoryBound take minutes (and changes what the
// heap holds), so it is skipped.
const raceEnabled = true
