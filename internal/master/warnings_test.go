package master_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/master"
)

// A conversion's warnings cross the whole cluster: the worker's RESULT, the
// master's relay, the client's Result. A v1.0 client gets the file alone, and
// the master's line counts what it could not pass on.
func TestWarningsReachTheClient(t *testing.T) {
	out := testPNG(t, 4, 4)
	warnings := []string{"the GIF has 12 frames; the PNG holds the first", "ünïcödé, \"quoted\" \\ <b>"}
	registerForTest(t, convert.Conversion{Name: "test-gif-warn", From: []convert.Kind{"ole2"}, To: []string{"png"},
		Run: func(*convert.Converter, context.Context, convert.Input) (convert.Result, error) {
			return convert.Result{Output: out, Warnings: warnings}, nil
		}})
	c := startCluster(t, clusterOptions{})
	waitForStatus(t, c, func(st master.Status) bool {
		return len(st.Workers) == 1 && st.Workers[0].Announced && st.Workers[0].Converts.Can("ole2", "png")
	})
	gif := append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), bytes.Repeat([]byte{1, 2, 3}, 100)...)

	for _, proto := range []string{client.ProtocolV2, client.ProtocolV1} {
		cl := newClient(c)
		cl.Protocol = proto
		var got bytes.Buffer
		res, err := cl.Convert(context.Background(), client.ToPNG, "anim.gif", bytes.NewReader(gif), &got, client.Options{})
		cl.Close()
		if err != nil || !bytes.Equal(got.Bytes(), out) {
			t.Fatalf("%s: %v, %d bytes", proto, err, got.Len())
		}
		want := warnings
		if proto == client.ProtocolV1 {
			want = nil
		}
		if !slices.Equal(res.Warnings, want) {
			t.Errorf("%s: warnings %q, want %q", proto, res.Warnings, want)
		}
	}
	c.Logs.WaitFor(t, `msg="job finished" tier=master`+" job=")
	c.Logs.WaitFor(t, "protocol=v1.0 to=png file=anim.gif")
	// The master logs a job after its answer: wait for both lines.
	var finished []string
	for deadline := time.Now().Add(10 * time.Second); len(finished) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		finished = finished[:0]
		for _, line := range strings.Split(c.Logs.String(), "\n") {
			if strings.Contains(line, `msg="job finished" tier=master`) {
				finished = append(finished, line)
			}
		}
	}
	if len(finished) != 2 {
		t.Errorf("%d jobs finished in the master's log, want 2:\n%s", len(finished), c.Logs.String())
	}
	for _, line := range finished {
		if !strings.Contains(line, " warnings=2") {
			t.Errorf("the master's line does not count the warnings: %s", line)
		}
	}
}
