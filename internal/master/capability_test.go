package master_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/worker"
)

// registerForTest adds a conversion to the registry until the test ends. The
// master and the workers of a test cluster share the test's registry: a worker
// that should not offer it disables it.
func registerForTest(t *testing.T, c convert.Conversion) {
	t.Helper()
	convert.Register(c)
	t.Cleanup(func() { convert.Unregister(c.Name) })
}

// The master sends a job only to a worker that announces its conversion: of two
// workers, one announcing an extra conversion (OLE2 to PNG) and one not, every
// OLE2 goes to the first, while both share the original conversions. A job no
// worker announces is answered at once, without a worker, in both protocols.
func TestRoutesByCapability(t *testing.T) {
	gifPNG := testPNG(t, 8, 8)
	var gifJobs atomic.Int64
	registerForTest(t, convert.Conversion{Name: "test-gif-png", From: []convert.Kind{"ole2"}, To: []string{"png"},
		Run: func(_ *convert.Converter, ctx context.Context, in convert.Input) (convert.Result, error) {
			gifJobs.Add(1)
			// Slow enough that OLE2 jobs queue for the one worker that does them.
			time.Sleep(50 * time.Millisecond)
			return convert.Result{Output: gifPNG}, nil
		}})
	// Registered, so the master knows it, but offered by no worker.
	registerForTest(t, convert.Conversion{Name: "test-gif-webp", From: []convert.Kind{"ole2"}, To: []string{"webp"},
		Run: func(*convert.Converter, context.Context, convert.Input) (convert.Result, error) {
			t.Error("a conversion every worker disables ran")
			return convert.Result{}, errors.New("disabled")
		}})
	var started int
	c := startCluster(t, clusterOptions{Workers: 2,
		Master: func(cfg *master.Config) { cfg.QueueTimeout = time.Minute },
		Worker: func(cfg *worker.Config) {
			// Worker 0 does the originals only; worker 1 also OLE2 to PNG.
			cfg.Convert.Disable = []string{"test-gif-webp"}
			if started == 0 {
				cfg.Convert.Disable = append(cfg.Convert.Disable, "test-gif-png")
			}
			started++
		}})
	capable := c.Workers[1]
	// Until its first probe a worker is taken to do the originals only.
	waitForStatus(t, c, func(st master.Status) bool {
		n := 0
		for _, w := range st.Workers {
			if w.Announced && w.Converts.Can("ole2", "png") == (w.Addr == capable) && !w.Converts.Can("ole2", "webp") {
				n++
			}
		}
		return n == 2
	})

	// A legacy Office file stands for a kind only some workers convert.
	gif := append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 64)...)
	text := []byte("some text for a PDF")
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 12 {
		wg.Go(func() {
			cl := newClient(c)
			defer cl.Close()
			cl.Protocol = []string{client.ProtocolV1, client.ProtocolV2}[i%2]
			out, err := cl.ConvertBytes(context.Background(), client.ToPNG, fmt.Sprintf("g%d.doc", i), gif)
			if err == nil && !bytes.Equal(out, gifPNG) {
				err = errors.New("the result is not the OLE2 conversion's")
			}
			if err != nil {
				errs <- fmt.Errorf("OLE2 %d over %s: %w", i, cl.Protocol, err)
			}
			out, err = cl.ConvertBytes(context.Background(), client.TextToPDF, fmt.Sprintf("t%d.txt", i), text)
			if err == nil && !bytes.HasPrefix(out, []byte("%PDF")) {
				err = fmt.Errorf("the result starts %q", out[:min(len(out), 8)])
			}
			if err != nil {
				errs <- fmt.Errorf("text %d over %s: %w", i, cl.Protocol, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := gifJobs.Load(); n != 12 {
		t.Errorf("the OLE2 conversion ran %d times for 12 jobs", n)
	}
	// The master logs a job after its answer: wait for all 24 lines.
	done := regexp.MustCompile(`msg="job finished" tier=master .* outcome=ok input_type=(\S+) worker=(\S+)`)
	var lines [][]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if lines = done.FindAllStringSubmatch(c.Logs.String(), -1); len(lines) == 24 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs logged as done, want 24; logs:\n%s", len(lines), c.Logs.String())
		}
	}
	textWorkers := map[string]int{}
	for _, l := range lines {
		switch kind, w := l[1], l[2]; kind {
		case "ole2":
			if w != capable {
				t.Errorf("a OLE2 job went to %s, which does not convert OLE2; only %s does", w, capable)
			}
		case "text":
			textWorkers[w]++
		default:
			t.Errorf("a job of kind %s", kind)
		}
	}
	if textWorkers[c.Workers[0]] == 0 {
		// Worker 1 was busy with OLE2s most of the time: worker 0, which does
		// the originals, must have taken text jobs.
		t.Errorf("text jobs went to %v, none to %s", textWorkers, c.Workers[0])
	}

	// OLE2 to WEBP is in the registry, but no worker announces it: refused at
	// once, whatever the queue timeout, and no worker sees the job.
	for _, proto := range []string{client.ProtocolV2, client.ProtocolV1} {
		cl := newClient(c)
		cl.Protocol, cl.MaxRetries = proto, -1
		start := time.Now()
		_, err := cl.ConvertBytes(context.Background(), client.ToWEBP, "a.doc", gif)
		cl.Close()
		var se *client.ServerError
		if !errors.As(err, &se) || se.Code != client.CodeUnsupportedOperation || !errors.Is(err, client.ErrUnsupported) ||
			se.Message != "no worker converts legacy Office document (DOC, XLS or PPT) to webp here" {
			t.Errorf("%s: OLE2 to WEBP with no worker for it: %v (%#v)", proto, err, se)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: the refusal took %s", proto, d)
		}
	}
	c.Logs.WaitFor(t, `outcome=unsupported_operation input_type=ole2 worker=""`)
	for _, line := range strings.Split(c.Logs.String(), "\n") {
		if strings.Contains(line, "tier=worker") && strings.Contains(line, "to=webp") {
			t.Errorf("a worker saw the job no worker converts: %s", line)
		}
	}
}
