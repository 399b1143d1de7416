package master

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
)

func TestResolver(t *testing.T) {
	targets, err := parseTargets([]string{"10.0.0.1:6000", "workers.internal:6000", "[::1]:6001"})
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string][]string{"workers.internal": {"10.1.0.2", "10.1.0.1"}}
	var fail bool
	r := newResolver(targets, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.lookup = func(_ context.Context, host string) ([]string, error) {
		if fail {
			return nil, errors.New("server misbehaving")
		}
		return answers[host], nil
	}
	want := []endpoint{{"10.0.0.1:6000", "10.0.0.1"}, {"10.1.0.1:6000", "workers.internal"}, {"10.1.0.2:6000", "workers.internal"}, {"[::1]:6001", "::1"}}
	check := func(got []endpoint) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("endpoints %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("endpoint %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
	check(r.resolve(context.Background()))
	// A failed lookup keeps the name's last addresses.
	fail = true
	check(r.resolve(context.Background()))
	// A new address behind the name becomes a worker.
	fail = false
	answers["workers.internal"] = append(answers["workers.internal"], "10.1.0.3")
	want = append(want[:3], endpoint{"10.1.0.3:6000", "workers.internal"}, want[3])
	check(r.resolve(context.Background()))
	if !r.hasNames() {
		t.Error("hasNames is false with a name among the targets")
	}
}

func TestParseTargetsErrors(t *testing.T) {
	for _, bad := range []string{"nohost", ":6000", "a:1:2"} {
		if _, err := parseTargets([]string{bad}); err == nil {
			t.Errorf("parseTargets(%q) succeeded", bad)
		}
	}
}
