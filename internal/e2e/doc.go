// Package e2e holds the end-to-end tests: they build the fileconv binary and run
// its subcommands as real processes talking real TLS on loopback.
package e2e
