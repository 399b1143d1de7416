//go:build race

package convert

// raceEnabled lets the slowest tests skip what the race detector makes
// minutes of, when a faster test covers the same code.
const raceEnabled = true
