package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fileconv/fileconv/internal/admin"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/master"
)

// Default admin listeners: loopback, since they need no secret to read.
const (
	defaultMasterAdmin = "127.0.0.1:9090"
	defaultWorkerAdmin = "127.0.0.1:9091"
	adminOff           = "off"
)

// adminListener starts the admin HTTP listener on addr (unless it is "off") and
// returns a function that serves it until ctx ends. Listening happens now, so a
// port in use fails the start rather than a goroutine later.
func adminListener(ctx context.Context, addr string, reg *prometheus.Registry, ready func() error, status func() any, log *slog.Logger) (func() error, error) {
	if addr == adminOff || addr == "" {
		return func() error { return nil }, nil
	}
	srv, err := admin.New(admin.Config{Addr: addr, Gatherer: reg, Ready: ready, Status: status, Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, fmt.Errorf("--admin: %w", err)
	}
	return func() error { return srv.Serve(ctx, ln) }, nil
}

// runStatus prints the cluster as a master sees it, from its admin listener.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		addr   string
		asJSON bool
	)
	fs := newFlagSet("status", "status [--admin 127.0.0.1:9090] [--json]", stderr)
	fs.StringVar(&addr, "admin", defaultMasterAdmin, "the master's admin listener, host:port")
	fs.BoolVar(&asJSON, "json", false, "print the master's JSON as it is")
	if err := parseNoOperands(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := "http://" + addr + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: --admin %q: %w", errUsage, addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("no master admin listener at %s (is the master running, with --admin %s?): %w", addr, addr, err)
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var st master.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("%s is not a fileconv master's status: %w", url, err)
	}
	printStatus(stdout, st)
	return nil
}

func printStatus(w io.Writer, st master.Status) {
	ready := "ready"
	if !st.Ready {
		ready = "NOT READY: " + st.NotReady
	}
	healthy := 0
	for _, wk := range st.Workers {
		if wk.State == "healthy" {
			healthy++
		}
	}
	fmt.Fprintf(w, "master %s; %d jobs in flight, %d of %d queue places taken; %d of %d workers healthy\n\n",
		ready, st.JobsRunning, st.Queued, st.QueueSize, healthy, len(st.Workers))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tNAME\tSTATE\tLOAD\tJOBS\tFAILURES\tCONVERTS\tLAST ERROR")
	for _, wk := range st.Workers {
		state := wk.State
		if wk.EjectedFor != "" {
			state += " (" + wk.EjectedFor + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\t%s\n", wk.Addr, wk.Name, state, wk.InFlight, wk.Capacity, wk.Jobs, wk.Failures, describeCapabilities(wk.Converts), wk.LastError)
	}
	tw.Flush()
}

// describeCapabilities writes what a worker converts compactly, kinds with the
// same targets together: "jpeg,png,webp>jpg,png,webp text>pdf pdf>txt".
func describeCapabilities(caps convert.Capabilities) string {
	var order []string
	kindsOf := map[string][]string{}
	// The registry's order first; kinds only a newer worker knows after them.
	var kinds []convert.Kind
	for _, info := range convert.Kinds() {
		kinds = append(kinds, info.Kind)
	}
	for _, k := range slices.Sorted(maps.Keys(caps)) {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	for _, kind := range kinds {
		targets := caps[kind]
		if len(targets) == 0 {
			continue
		}
		key := strings.Join(targets, ",")
		if kindsOf[key] == nil {
			order = append(order, key)
		}
		kindsOf[key] = append(kindsOf[key], string(kind))
	}
	var parts []string
	for _, key := range order {
		parts = append(parts, strings.Join(kindsOf[key], ",")+">"+key)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
