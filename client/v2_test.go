package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

func TestConvertV2(t *testing.T) {
	s := startServer(t, false, upper)
	c := s.client()
	defer c.Close()
	input := bytes.Repeat([]byte("hello world "), 50_000) // 600 KB: several chunks
	var events []Progress
	var out bytes.Buffer
	res, err := c.Convert(context.Background(), ToWEBP, "/some/dir/photo.png", bytes.NewReader(input), &out,
		Options{ConvertOptions: ConvertOptions{Quality: 70}, Progress: func(p Progress) { events = append(events, p) }})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.ToUpper(input)
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatal("wrong result")
	}
	if res.JobID != "job1" || res.Size != int64(len(want)) || res.InputSize != int64(len(input)) ||
		res.SHA256 != sha256.Sum256(want) || res.Protocol != "v2.0" || res.Attempts != 1 || res.InputType != "text" {
		t.Errorf("result %+v", res)
	}
	req := s.seen[0]
	if req.Token != "tok" || req.Name != "photo.png" || req.Target != ToWEBP || req.Options.Quality != 70 {
		t.Errorf("request %v", req)
	}

	// Progress: phases in order, counts never going back, each phase ending at its total.
	var last = map[Phase]Progress{}
	phase := Phase(0)
	for _, e := range events {
		if e.Phase < phase {
			t.Fatalf("phase went back: %v", events)
		}
		if e.Phase == phase && e.Done < last[phase].Done {
			t.Fatalf("progress went back: %v", events)
		}
		phase = e.Phase
		last[phase] = e
	}
	if u := last[Uploading]; u.Done != int64(len(input)) || u.Total != u.Done {
		t.Errorf("last upload event %+v", u)
	}
	if _, ok := last[Converting]; !ok {
		t.Error("no converting event")
	}
	if d := last[Downloading]; d.Done != int64(len(want)) || d.Total != d.Done {
		t.Errorf("last download event %+v", d)
	}
	if len(events) > 20 {
		t.Errorf("%d progress events for a fast local transfer; they are not throttled", len(events))
	}
}

func TestRetriesBusyThenSucceeds(t *testing.T) {
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		if n <= 2 {
			return reply{err: errs.busy}
		}
		return upper(n, req, body)
	})
	c := s.client()
	var attempts []int
	var out bytes.Buffer
	res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), &out,
		Options{Progress: func(p Progress) {
			if p.Phase == Uploading && p.Done == 0 {
				attempts = append(attempts, p.Attempt)
			}
		}})
	if err != nil || out.String() != "ABC" || res.Attempts != 3 || s.requests.Load() != 3 {
		t.Fatalf("err %v, out %q, res %+v, requests %d", err, out.String(), res, s.requests.Load())
	}
	if len(attempts) != 3 || attempts[2] != 3 {
		t.Errorf("progress attempts %v", attempts)
	}
	// The errors did not cost the connection.
	if s.Accepts.Load() != 1 {
		t.Errorf("%d connections for 3 attempts", s.Accepts.Load())
	}
}

func TestRetriesUnavailableUntilMaxRetries(t *testing.T) {
	s := startServer(t, false, func(int, wire.ConvertRequest, []byte) reply { return reply{err: errs.unavailable} })
	c := s.client()
	c.MaxRetries = 2
	_, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrServer) || errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v", err)
	}
	var se *ServerError
	if !errors.As(err, &se) || se.Code != CodeUnavailable || se.Message != "no worker is available" || se.JobID != "" {
		t.Errorf("server error %+v", se)
	}
	if n := s.requests.Load(); n != 3 {
		t.Errorf("%d requests with MaxRetries 2", n)
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q does not say how many attempts", err)
	}

	c.MaxRetries = -1
	s.requests.Store(0)
	c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	if n := s.requests.Load(); n != 1 {
		t.Errorf("%d requests with MaxRetries -1", n)
	}
}

func TestNoRetryOfRefusals(t *testing.T) {
	for _, e := range []*wire.ErrorResponse{
		errs.unauthorized,
		{Code: fail.TypeMismatch, Message: "PDF detected: use operation 5 (to TXT)"},
		{Code: fail.BadRequest, Message: "nope"},
		{Code: "brand_new_code", Message: "from the future"},
	} {
		s := startServer(t, false, func(int, wire.ConvertRequest, []byte) reply { return reply{err: e} })
		_, err := s.client().ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
		if n := s.requests.Load(); n != 1 {
			t.Errorf("%s: %d requests", e.Code, n)
		}
		var se *ServerError
		if !errors.As(err, &se) || se.Code != e.Code || se.Message != e.Message {
			t.Errorf("%s: err = %v", e.Code, err)
		}
	}
	s := startServer(t, false, func(int, wire.ConvertRequest, []byte) reply { return reply{err: errs.unauthorized} })
	_, err := s.client().ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("err = %v, want ErrUnauthorized", err)
	}
	_, err = s.client().ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	var se *ServerError
	errors.As(err, &se)
	if errors.Is(&ServerError{Code: "brand_new_code"}, ErrInternal) != true {
		t.Error("an unknown code does not match ErrInternal")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		if n == 1 {
			return reply{err: &wire.ErrorResponse{Code: fail.Busy, Message: "wait", RetryAfter: 150 * time.Millisecond}}
		}
		return upper(n, req, body)
	})
	start := time.Now()
	if _, err := s.client().ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("retried after %v, before the server's retry_after of 150ms", d)
	}
}

func TestRetryStopsAtTheDeadline(t *testing.T) {
	s := startServer(t, false, func(int, wire.ConvertRequest, []byte) reply {
		return reply{err: &wire.ErrorResponse{Code: fail.Busy, Message: "wait", RetryAfter: time.Hour}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.client().ConvertBytes(ctx, ToPNG, "a.txt", []byte("abc"))
	if !errors.Is(err, ErrBusy) || time.Since(start) > time.Second {
		t.Errorf("err = %v after %v; want busy at once, since the wait would pass the deadline", err, time.Since(start))
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{RetryBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 50 {
			if d := c.backoff(attempt, 0); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want %v/2 to %v", attempt, d, want, want)
			}
		}
	}
	if d := c.backoff(1, 3*time.Second); d < 3*time.Second || d > 3300*time.Millisecond {
		t.Errorf("backoff with retry_after 3s = %v", d)
	}
}

func TestDialFailureIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &Client{Addr: addr, Token: "tok", RetryBackoff: time.Millisecond, MaxRetries: 2}
	res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), io.Discard, Options{})
	if err == nil || res.Attempts != 3 || errors.Is(err, ErrServer) {
		t.Errorf("err = %v, attempts %d", err, res.Attempts)
	}
}

func TestCertificateFailureIsNotRetried(t *testing.T) {
	s := startServer(t, false, upper)
	c := &Client{Addr: s.Addr, Token: "tok", RetryBackoff: time.Millisecond} // system roots: the test CA is unknown
	res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), io.Discard, Options{})
	if err == nil || res.Attempts != 1 {
		t.Errorf("err = %v, attempts %d", err, res.Attempts)
	}
}

func TestConnectionReuse(t *testing.T) {
	s := startServer(t, false, upper)
	c := s.client()
	for i := range 5 {
		if out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc")); err != nil || string(out) != "ABC" {
			t.Fatalf("request %d: %q, %v", i, out, err)
		}
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Accepts.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential requests and a ping", n)
	}

	// Concurrent requests each need a connection; only MaxIdleConns stay.
	c.MaxIdleConns = 2
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("xyz")); err != nil || string(out) != "XYZ" {
				t.Errorf("%q, %v", out, err)
			}
		})
	}
	wg.Wait()
	if n := c.idleConns(); n > 2 || n == 0 {
		t.Errorf("%d idle connections, want 1 or 2", n)
	}
	c.Close()
	if n := c.idleConns(); n != 0 {
		t.Errorf("%d idle connections after Close", n)
	}
}

func TestIdleTimeoutClosesConnections(t *testing.T) {
	s := startServer(t, false, upper)
	c := s.client()
	c.IdleTimeout = 50 * time.Millisecond
	c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	if c.idleConns() != 1 {
		t.Fatal("no idle connection after a request")
	}
	time.Sleep(200 * time.Millisecond)
	if n := c.idleConns(); n != 0 {
		t.Errorf("%d idle connections after the idle timeout", n)
	}
}

func TestStalePooledConnectionIsReplaced(t *testing.T) {
	// The server closes each connection after answering, as one whose idle
	// timeout is shorter than the client's would.
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		r := upper(n, req, body)
		r.close = true
		return r
	})
	c := s.client()
	c.MaxRetries = -1 // the replacement must not count as a retry
	for i := range 3 {
		time.Sleep(20 * time.Millisecond) // let the close arrive
		res, err := c.Convert(context.Background(), ToPNG, "a.txt", bytes.NewReader(bytes.Repeat([]byte("a"), 200_000)), io.Discard, Options{})
		if err != nil || res.Attempts != 1 {
			t.Fatalf("request %d: %v, %+v", i, err, res)
		}
	}
	if n := s.Accepts.Load(); n != 3 {
		t.Errorf("%d connections", n)
	}
}

func TestResultChecksumIsVerified(t *testing.T) {
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		r := upper(n, req, body)
		r.bad = n == 1
		return r
	})
	c := s.client()
	_, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	if !errors.Is(err, ErrChecksum) || errors.Is(err, ErrServer) {
		t.Fatalf("err = %v, want a local ErrChecksum", err)
	}
	// The framing was intact: the connection is reused.
	if out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc")); err != nil || string(out) != "ABC" {
		t.Fatalf("%q, %v", out, err)
	}
	if s.Accepts.Load() != 1 {
		t.Errorf("%d connections", s.Accepts.Load())
	}
}

func TestOptionsAreCheckedLocally(t *testing.T) {
	s := startServer(t, false, upper)
	// Only values are checked here: whether an option fits the conversion
	// depends on the input's kind, which the server detects.
	_, err := s.client().Convert(context.Background(), ToJPEG, "a", strings.NewReader("abc"), io.Discard, Options{ConvertOptions: ConvertOptions{Quality: 500}})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "out of range") || s.requests.Load() != 0 {
		t.Errorf("quality 500: %v", err)
	}
	_, err = s.client().Convert(context.Background(), ToPNG, "a", strings.NewReader(""), io.Discard, Options{})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "empty input") {
		t.Errorf("empty input: %v", err)
	}
	for _, target := range []string{"", "p/ng", "a-very-long-target-name"} {
		_, err = s.client().Convert(context.Background(), target, "a", strings.NewReader("abc"), io.Discard, Options{})
		if !errors.Is(err, ErrBadRequest) || s.requests.Load() != 0 {
			t.Errorf("target %q: %v", target, err)
		}
	}
}

// onlyReader hides every method but Read.
type onlyReader struct{ io.Reader }

func TestInputThatCannotSeek(t *testing.T) {
	s := startServer(t, false, upper)
	for _, size := range []int{10, 3 << 20} {
		input := bytes.Repeat([]byte("x"), size)
		var out bytes.Buffer
		res, err := s.client().Convert(context.Background(), ToPNG, "a", onlyReader{bytes.NewReader(input)}, &out, Options{})
		if err != nil || res.InputSize != int64(size) || !bytes.Equal(out.Bytes(), bytes.ToUpper(input)) {
			t.Errorf("size %d: %v, %+v", size, err, res)
		}
	}
}

func TestInputReadFromItsPosition(t *testing.T) {
	s := startServer(t, false, upper)
	r := strings.NewReader("skip:abc")
	r.Seek(5, io.SeekStart)
	var out bytes.Buffer
	if _, err := s.client().Convert(context.Background(), ToPNG, "a", r, &out, Options{}); err != nil || out.String() != "ABC" {
		t.Errorf("%q, %v", out.String(), err)
	}
}

func TestCancelStopsRetrying(t *testing.T) {
	s := startServer(t, false, func(int, wire.ConvertRequest, []byte) reply {
		return reply{err: &wire.ErrorResponse{Code: fail.Busy, Message: "wait", RetryAfter: 300 * time.Millisecond}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := s.client().ConvertBytes(ctx, ToPNG, "a.txt", []byte("abc"))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrBusy) {
		t.Errorf("err = %v", err)
	}
}

func TestV1Fallback(t *testing.T) {
	s := startServer(t, true, upper)
	c := s.client()
	res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), io.Discard, Options{})
	if err != nil || res.Protocol != "v1.0" || res.Attempts != 1 {
		t.Fatalf("%v, %+v", err, res)
	}
	// The client remembers: the second request goes straight to v1.0.
	if out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc")); err != nil || string(out) != "ABC" {
		t.Fatalf("%q, %v", out, err)
	}
	if n := s.Accepts.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (a refused v2, then two v1.0)", n)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Error(err)
	}
	// Options cannot travel in v1.0.
	_, err = c.Convert(context.Background(), ToJPEG, "a.txt", strings.NewReader("abc"), io.Discard, Options{ConvertOptions: ConvertOptions{Quality: 50}})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("options over v1.0: %v", err)
	}
	// from=text is what v1.0 does anyway; from=csv cannot travel.
	var out bytes.Buffer
	_, err = c.Convert(context.Background(), TextToPDF, "a.csv", strings.NewReader("a,b"), &out, Options{ConvertOptions: ConvertOptions{From: "text"}})
	if err != nil || out.String() != "A,B" {
		t.Errorf("from=text over v1.0: %q, %v", out.String(), err)
	}
	_, err = c.Convert(context.Background(), TextToPDF, "a.csv", strings.NewReader("a,b"), io.Discard, Options{ConvertOptions: ConvertOptions{From: "csv"}})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("from=csv over v1.0: %v", err)
	}

	// With v2 required, the refusal is an error that says what to do.
	strict := s.client()
	strict.Protocol = ProtocolV2
	_, err = strict.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	if err == nil || !strings.Contains(err.Error(), "use protocol v1") {
		t.Errorf("strict v2 against a v1.0 server: %v", err)
	}
	// A large body the v1.0 server refuses without reading still gets the explanation.
	_, err = strict.ConvertBytes(context.Background(), ToPNG, "a.txt", bytes.Repeat([]byte("a"), 16<<20))
	if err == nil || !strings.Contains(err.Error(), "use protocol v1") {
		t.Errorf("strict v2, large body, against a v1.0 server: %v", err)
	}
}

func TestV1Protocol(t *testing.T) {
	s := startServer(t, true, func(n int, req wire.ConvertRequest, body []byte) reply {
		switch n {
		case 1:
			return reply{err: &wire.ErrorResponse{Message: "busy: every worker is at capacity"}}
		case 2:
			return reply{err: &wire.ErrorResponse{Message: "no worker is available: all 2 unreachable"}}
		}
		return upper(n, req, body)
	})
	c := s.client()
	c.Protocol = ProtocolV1
	var events []Progress
	var out bytes.Buffer
	res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), &out, Options{Progress: func(p Progress) { events = append(events, p) }})
	if err != nil || out.String() != "ABC" || res.Attempts != 3 || res.Protocol != "v1.0" {
		t.Fatalf("%v, %q, %+v", err, out.String(), res)
	}
	if last := events[len(events)-1]; last.Phase != Downloading || last.Done != 3 || last.Total != 3 {
		t.Errorf("last event %+v", last)
	}

	s2 := startServer(t, true, func(int, wire.ConvertRequest, []byte) reply {
		return reply{err: &wire.ErrorResponse{Message: "Invalid authentication token"}}
	})
	c2 := s2.client()
	c2.Protocol = ProtocolV1
	_, err = c2.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	var se *ServerError
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &se) || se.Message != "Invalid authentication token" || s2.requests.Load() != 1 {
		t.Errorf("err = %v, requests %d", err, s2.requests.Load())
	}
	if err.Error() != "convert a.txt: server: Invalid authentication token" {
		t.Errorf("message %q changed from v1.0's", err.Error())
	}
}

func TestV1Codes(t *testing.T) {
	for msg, want := range map[string]error{
		"Invalid authentication token":                                                ErrUnauthorized,
		"busy: the server is at its limit of 1 connections":                           ErrBusy,
		"no worker is available: dial tcp: refused":                                   ErrUnavailable,
		"file is 300 bytes, over the limit of 200 bytes (max-body)":                   ErrTooLarge,
		"PDF detected: use operation 5 (to TXT)":                                      ErrTypeMismatch,
		"image is 9×9 (81 pixels), over the limit of 80 pixels (max-pixels)":          ErrLimit,
		"Checksum mismatch: the body's MD5 is x but the header says y":                ErrChecksum,
		"empty input: the file has 0 bytes":                                           ErrBadRequest,
		"the job took longer than the 2m0s limit (job-timeout)":                       ErrTimeout,
		"timed out after 30s waiting for the rest of the file":                        ErrTimeout,
		"unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF": ErrTypeMismatch,
		"something new": ErrInternal,
	} {
		if err := newV1Error(msg); !errors.Is(err, want) || !errors.Is(err, ErrServer) {
			t.Errorf("%q: code %s", msg, err.Code)
		}
	}
}

func TestPing(t *testing.T) {
	s := startServer(t, false, upper)
	c := s.client()
	for range 3 {
		if err := c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s.Accepts.Load() != 1 {
		t.Errorf("%d connections for 3 pings", s.Accepts.Load())
	}
}

func TestConcurrentUseWithRefusals(t *testing.T) {
	// Refusals keep the connection, so pooled connections change hands while
	// their last user is still looking at its error.
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		if n%2 == 0 {
			return reply{err: errs.unauthorized}
		}
		return upper(n, req, body)
	})
	c := s.client()
	defer c.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				_, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
				if err != nil && !errors.Is(err, ErrUnauthorized) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := s.Accepts.Load(); n > 8 {
		t.Errorf("%d connections for 8 goroutines", n)
	}
}

func TestServerErrorText(t *testing.T) {
	for _, c := range []struct {
		e    *ServerError
		want string
	}{
		{&ServerError{Code: CodeBusy, Message: "busy: all full", Protocol: "v2.0"}, "server: busy: all full"},
		{&ServerError{Code: CodeBusy, Message: "all full", JobID: "j1", Protocol: "v2.0"}, "server: busy: all full (job j1)"},
		{&ServerError{Code: CodeUnauthorized, Message: "Invalid authentication token", Protocol: "v1.0"}, "server: Invalid authentication token"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}
