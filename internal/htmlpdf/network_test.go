package htmlpdf

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sink is a set of local servers that record every attempt to reach them:
// HTTP requests by path, TCP connections to the HTTPS server, UDP packets.
type sink struct {
	mu    sync.Mutex
	hits  map[string]int
	plain *httptest.Server
	tls   *httptest.Server
	udp   net.PacketConn
}

func newSink(t *testing.T) *sink {
	s := &sink{hits: map[string]int{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hit(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fmt.Fprint(w, "SERVER-SECRET-BODY")
	})
	s.plain = httptest.NewUnstartedServer(handler)
	s.plain.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.hit("tcp-connection")
		}
	}
	s.plain.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.plain.Start()
	s.tls = httptest.NewUnstartedServer(handler)
	s.tls.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.hit("tls-connection")
		}
	}
	s.tls.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.tls.StartTLS()
	var err error
	if s.udp, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := s.udp.ReadFrom(buf); err != nil {
				return
			}
			s.hit("udp-packet")
		}
	}()
	t.Cleanup(func() { s.plain.Close(); s.tls.Close(); s.udp.Close() })
	return s
}

func (s *sink) hit(name string) {
	s.mu.Lock()
	s.hits[name]++
	s.mu.Unlock()
}

func (s *sink) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hits
	s.hits = map[string]int{}
	return h
}

// hostileHTML tries every way a page has to reach a server or a file. Each
// HTTP attempt names itself in its path.
func hostileHTML(s *sink, secretFile string) string {
	u := s.plain.URL // http://127.0.0.1:PORT
	port := u[strings.LastIndex(u, ":")+1:]
	tlsURL := s.tls.URL
	udpPort := s.udp.LocalAddr().(*net.UDPAddr).Port
	f := "file://" + secretFile
	r := strings.NewReplacer("U/", u+"/", "LOCALHOST/", "http://localhost:"+port+"/", "TLS/", tlsURL+"/",
		"WS/", "ws://127.0.0.1:"+port+"/", "FILE", f, "UDPPORT", fmt.Sprint(udpPort))
	return r.Replace(`<!DOCTYPE html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="U/link-stylesheet">
<link rel="stylesheet" href="FILE">
<link rel="preload" href="U/link-preload" as="image">
<link rel="prefetch" href="U/link-prefetch">
<link rel="icon" href="U/link-icon">
<link rel="preconnect" href="U/">
<link rel="dns-prefetch" href="LOCALHOST/">
<link rel="stylesheet" href="data:text/css,.data-css::after%7Bcontent:'DATA-CSS-APPLIED'%7D">
<style>
@import url("U/css-import");
@import url("FILE");
@font-face { font-family: Remote; src: url("U/css-font-face"); }
body { background: url("U/css-background") }
.remote-font { font-family: Remote, sans-serif }
.file-bg { background: url("FILE") }
</style>
<script src="U/script-src"></script>
</head><body>
<p>VISIBLE-BODY <span class="data-css"></span> <span class="remote-font">font</span></p>
<img src="U/img-src"><img srcset="U/img-srcset 2x"><picture><source srcset="U/picture-source"><img alt=""></picture>
<img src="LOCALHOST/img-localhost"><img src="TLS/img-https"><img src="FILE">
<iframe src="U/iframe-src"></iframe><iframe src="FILE"></iframe>
<iframe srcdoc="<p>SRCDOC-FRAME</p><img src='U/srcdoc-img'>"></iframe>
<object data="U/object-data"></object><object data="FILE"></object><embed src="U/embed-src">
<video poster="U/video-poster" src="U/video-src"></video><audio src="U/audio-src" preload="auto"></audio>
<svg width="10" height="10"><image href="U/svg-image" width="10" height="10"/></svg>
<input type="image" src="U/input-image">
<div class="file-bg">x</div>
<noscript><p>NOSCRIPT-SHOWN</p></noscript>
<script>
document.write("<p>JAVASCRIPT-RAN</p>");
function attempt(f) { try { f() } catch (e) {} }
attempt(() => fetch("U/js-fetch"));
attempt(() => fetch("FILE").then(r => r.text()).then(t => document.body.append(t)));
attempt(() => { const x = new XMLHttpRequest(); x.open("GET", "U/js-xhr-sync", false); x.send(); document.body.append(x.responseText) });
attempt(() => { const x = new XMLHttpRequest(); x.open("GET", "FILE", false); x.send(); document.body.append(x.responseText) });
attempt(() => new WebSocket("WS/js-websocket"));
attempt(() => new EventSource("U/js-eventsource"));
attempt(() => navigator.sendBeacon("U/js-beacon", "x"));
attempt(() => { new Image().src = "U/js-image" });
attempt(() => import("U/js-import"));
attempt(() => new Worker(URL.createObjectURL(new Blob(['fetch("U/js-worker-fetch")'], {type: "text/javascript"}))));
attempt(() => window.open("U/js-window-open"));
attempt(() => { const pc = new RTCPeerConnection({iceServers: [{urls: "stun:127.0.0.1:UDPPORT"}]}); pc.createDataChannel("x"); pc.createOffer().then(o => pc.setLocalDescription(o)) });
</script>
</body></html>`)
}

// networkVectors are the paths hostileHTML uses, and whether they need
// JavaScript.
var networkVectors = []struct {
	name string
	js   bool
}{
	{"link-stylesheet", false}, {"link-preload", false}, {"css-import", false}, {"css-font-face", false},
	{"css-background", false}, {"img-src", false}, {"img-srcset", false}, {"picture-source", false},
	{"img-localhost", false}, {"tls-connection", false}, {"iframe-src", false}, {"srcdoc-img", false},
	{"object-data", false}, {"embed-src", false}, {"video-poster", false}, {"svg-image", false},
	{"input-image", false},
	{"script-src", true}, {"js-fetch", true}, {"js-xhr-sync", true}, {"js-websocket", true},
	{"js-eventsource", true}, {"js-beacon", true}, {"js-image", true}, {"js-import", true},
	{"js-worker-fetch", true}, {"udp-packet", true}, {"tcp-connection", false},
}

// watchOpens counts the opens and reads of a file (inotify); each call of
// the returned func gives the count since the last one.
func watchOpens(t *testing.T, path string) func() int {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN|unix.IN_ACCESS); err != nil {
		t.Fatal(err)
	}
	return func() int {
		n := 0
		buf := make([]byte, 4096)
		for {
			k, err := unix.Read(fd, buf)
			if k <= 0 || err != nil {
				return n
			}
			for off := 0; off+unix.SizeofInotifyEvent <= k; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				n++
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// secretFile is a local file whose content must never reach a PDF.
func secretFile(t *testing.T) (path, secret string) {
	secret = "FILE-SECRET-" + rand.Text()
	path = filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, secret
}

// TestNothingFetched prints a page that tries every way to reach a local
// server and local files, with JavaScript off and on: no request arrives, no
// file's content is in the PDF, the document's own inline and data: content
// shows. It also turns each protection on alone (and none, to show that the
// page does make every request when nothing stops it).
func TestNothingFetched(t *testing.T) {
	s := newSink(t)
	path, secret := secretFile(t)
	doc := hostileHTML(s, path)
	opens := watchOpens(t, path)
	if _, err := os.ReadFile(path); err != nil || opens() == 0 {
		t.Fatalf("the watch on %s sees no read of it (%v)", path, err)
	}
	all := layerPolicy | layerFetch | layerFlags
	cases := []struct {
		name string
		off  layers
		// gaps are the vectors this setting does not stop by itself.
		gaps []string
	}{
		{"every protection", 0, nil},
		// A preconnect opens a connection with no request: neither the policy
		// nor the interception sees it; WebRTC is in no policy; the
		// interception does not see WebSockets. The network flags stop all.
		{"only the content policy", layerFetch | layerFlags, []string{"tcp-connection", "udp-packet"}},
		{"only the interception", layerPolicy | layerFlags, []string{"tcp-connection", "js-websocket", "udp-packet"}},
		{"only the network flags", layerPolicy | layerFetch, nil},
		{"no protection", all, nil},
	}
	for _, js := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/javascript=%v", c.name, js), func(t *testing.T) {
				if c.off != 0 && testing.Short() {
					t.Skip("short")
				}
				p := newPool(t, Config{Tabs: 1, JavaScript: js, off: c.off})
				s.reset()
				pdf := convert(t, p, Job{HTML: []byte(doc)})
				// Give what the page started time to arrive.
				time.Sleep(500 * time.Millisecond)
				hits := s.reset()
				if n := opens(); n > 0 {
					hits["file-opened"] = n
				}
				text := pdfText(t, pdf)
				for _, want := range []string{"VISIBLE-BODY", "DATA-CSS-APPLIED"} {
					if !strings.Contains(text, want) {
						t.Errorf("the PDF lacks the document's own %s:\n%s", want, text)
					}
				}
				if js != strings.Contains(text, "JAVASCRIPT-RAN") {
					t.Errorf("JavaScript=%v, but JAVASCRIPT-RAN in the text is %v", js, !js)
				}
				if js == strings.Contains(text, "NOSCRIPT-SHOWN") {
					t.Errorf("JavaScript=%v, but NOSCRIPT-SHOWN in the text is %v", js, js)
				}
				t.Logf("requests that arrived: %v; the browser's interception failed %d", hits, p.Stats().Blocked)
				if c.off == all {
					// The control: unprotected, the page does reach out.
					var missed []string
					for _, v := range networkVectors {
						if (!v.js || js) && hits[v.name] == 0 {
							missed = append(missed, v.name)
						}
					}
					if len(missed) > len(networkVectors)/2 {
						t.Errorf("unprotected, the page should reach the server, but these never arrived: %v", missed)
					} else {
						t.Logf("unprotected, these did not arrive anyway: %v", missed)
					}
					return
				}
				if strings.Contains(text, secret) || strings.Contains(text, "root:x:0:0") || strings.Contains(text, "SERVER-SECRET-BODY") {
					t.Errorf("a file's or the server's content is in the PDF:\n%s", text)
				}
				for name, n := range hits {
					if !slices.Contains(c.gaps, name) {
						t.Errorf("%d request(s) %s reached the server", n, name)
					}
				}
			})
		}
	}
}

// TestNavigationAway: a page that sends itself elsewhere (meta refresh, a
// script) cannot load anything, and the job fails or prints the document,
// never another page.
func TestNavigationAway(t *testing.T) {
	s := newSink(t)
	path, secret := secretFile(t)
	opens := watchOpens(t, path)
	for _, js := range []bool{false, true} {
		p := newPool(t, Config{Tabs: 1, JavaScript: js})
		for _, target := range []string{s.plain.URL + "/meta-refresh", "file://" + path, "file:///etc/passwd"} {
			html := `<meta http-equiv="refresh" content="0;url=` + target + `"><p>REFRESH-PAGE</p>` +
				`<script>setTimeout(() => location.href = "` + target + `", 0)</script>`
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			pdf, err := p.Convert(ctx, Job{HTML: []byte(html)})
			cancel()
			time.Sleep(300 * time.Millisecond)
			if hits := s.reset(); len(hits) > 0 {
				t.Errorf("js=%v %s: requests arrived: %v", js, target, hits)
			}
			if n := opens(); n > 0 {
				t.Errorf("js=%v %s: the file was opened %d times", js, target, n)
			}
			if err != nil {
				t.Logf("js=%v %s: %v", js, target, err)
				continue
			}
			text := pdfText(t, pdf)
			if !strings.Contains(text, "REFRESH-PAGE") || strings.Contains(text, secret) || strings.Contains(text, "root:") {
				t.Errorf("js=%v %s: the PDF is not the document:\n%s", js, target, text)
			}
		}
	}
}
