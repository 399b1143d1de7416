package wire

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The test vector of PROTOCOL.md: "photo.png", 1234 bytes, operation 1.
func TestHeaderVector(t *testing.T) {
	h := Header{Version: Version10, Token: "super_secret_token_123456789012", Filename: "photo.png", Size: 1234, Operation: OpToJPEG}
	b := h.Encode()
	if len(b) != 94 {
		t.Fatalf("header is %d bytes, want 94", len(b))
	}
	if got, want := hex.EncodeToString(b[:4]), "76312e30"; got != want {
		t.Errorf("starts with %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(b[82:]), "00000000000004d200000001"; got != want {
		t.Errorf("ends with %s, want %s", got, want)
	}
	// The 31-byte default token leaves one NUL of padding.
	if b[4+31] != 0 || b[4+30] != '2' {
		t.Errorf("token field not NUL-padded: % x", b[4:36])
	}
	// The same bytes as Python's struct.pack('!4s32s16s30sQI', ...).
	var want bytes.Buffer
	want.WriteString("v1.0")
	want.Write(pad("super_secret_token_123456789012", 32))
	want.Write(make([]byte, 16))
	want.Write(pad("photo.png", 30))
	binary.Write(&want, binary.BigEndian, uint64(1234))
	binary.Write(&want, binary.BigEndian, uint32(1))
	if !bytes.Equal(b[:], want.Bytes()) {
		t.Errorf("header\n% x\nwant\n% x", b, want.Bytes())
	}
}

func pad(s string, n int) []byte {
	b := make([]byte, n)
	copy(b, s)
	return b
}

func TestHeaderRoundTrip(t *testing.T) {
	body := []byte("hello, world\n")
	cases := []Header{
		NewHeader("tok", "a.txt", OpTextToPDF, body),
		NewHeader(strings.Repeat("t", 32), strings.Repeat("n", 30), OpPDFToText, nil),
		{Version: Version10, Token: "", Filename: "", Size: 1<<64 - 1, Operation: 99},
		NewHeader("x", "ünïcödé.png", OpToWEBP, body),
	}
	for _, h := range cases {
		b := h.Encode()
		got, err := ReadHeader(bytes.NewReader(b[:]))
		if err != nil {
			t.Fatalf("ReadHeader: %v", err)
		}
		if got != h {
			t.Errorf("round trip\n got %+v\nwant %+v", got, h)
		}
	}
	if h := cases[0]; h.Checksum != md5.Sum(body) || h.Size != uint64(len(body)) {
		t.Errorf("NewHeader did not set checksum and size: %+v", h)
	}
}

func TestHeaderCutsLongFields(t *testing.T) {
	name := strings.Repeat("é", 20) // 40 bytes: cut at 30 falls on a character boundary
	h := Header{Version: Version10, Token: strings.Repeat("k", 40), Filename: "x" + name}
	b := h.Encode()
	got, err := ReadHeader(bytes.NewReader(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	if got.Token != strings.Repeat("k", 32) {
		t.Errorf("token %q, want it cut at 32 bytes", got.Token)
	}
	// "x" + é×14 = 29 bytes, then half of the 15th é: the decoder drops the half.
	if want := "x" + strings.Repeat("é", 14); got.Filename != want {
		t.Errorf("filename %q, want %q", got.Filename, want)
	}
}

func TestReadHeaderShort(t *testing.T) {
	_, err := ReadHeader(bytes.NewReader(make([]byte, 50)))
	if !errors.Is(err, ErrShortHeader) {
		t.Errorf("err = %v, want ErrShortHeader", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		version string
		op      Operation
		wantErr string
	}{
		{"v1.0", OpToJPEG, ""},
		{"v1.0", OpPDFToText, ""},
		{"v2.0", OpToJPEG, `Unsupported protocol version "v2.0"`},
		{"\x00\x01ab", OpToJPEG, `Unsupported protocol version "\x00\x01ab"`},
		{"v1.0", 0, "Invalid operation 0"},
		{"v1.0", 99, "Invalid operation 99"},
	}
	for _, c := range cases {
		err := Header{Version: c.version, Operation: c.op}.ValidateVersionAndOperation()
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q op %d: unexpected %v", c.version, c.op, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q op %d: err %v, want %q", c.version, c.op, err, c.wantErr)
		}
	}
}

func TestResponse(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteResponse(&buf, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(buf.Bytes()); got != "0000000000000003616263" {
		t.Errorf("response %s", got)
	}
	buf.Reset()
	WriteError(&buf, "Invalid authentication token")
	size, err := ReadResponseSize(&buf)
	if err != nil || size != uint64(len("ERROR: Invalid authentication token")) {
		t.Fatalf("size %d, err %v", size, err)
	}
	if body := buf.Bytes(); !IsError(body) || string(body) != "ERROR: Invalid authentication token" {
		t.Errorf("error body %q", body)
	}
}

func TestOperationTargets(t *testing.T) {
	for op, want := range map[Operation]string{OpToJPEG: "jpg", OpToPNG: "png", OpToWEBP: "webp", OpTextToPDF: "pdf", OpPDFToText: "txt", 0: "", 6: ""} {
		if got := op.Target(); got != want {
			t.Errorf("%d.Target() = %q, want %q", op, got, want)
		}
		if back, ok := OperationOf(want); want != "" && (!ok || back != op) {
			t.Errorf("OperationOf(%q) = %d, %v", want, back, ok)
		}
	}
	if _, ok := OperationOf("gif"); ok {
		t.Error("gif has an operation")
	}
}

func TestPrintable(t *testing.T) {
	if got := Printable("a\nb\x00c\xffd"); strings.ContainsAny(got, "\n\x00") || !strings.Contains(got, `\x0a`) {
		t.Errorf("Printable = %q", got)
	}
}

func FuzzReadHeader(f *testing.F) {
	seed := Header{Version: Version10, Token: "super_secret_token_123456789012", Filename: "photo.png", Size: 1234, Operation: 1}.Encode()
	f.Add(seed[:])
	f.Add(make([]byte, HeaderSize))
	f.Add([]byte("v1.0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bytes.NewReader(b))
		if len(b) < HeaderSize {
			if err == nil {
				t.Fatal("short input decoded")
			}
			return
		}
		if err != nil {
			t.Fatalf("94 bytes failed: %v", err)
		}
		_ = h.ValidateVersionAndOperation()
		// Re-encoding a decoded header gives back the fields it decoded.
		enc := h.Encode()
		again, err := ReadHeader(bytes.NewReader(enc[:]))
		if err != nil || again != h {
			t.Fatalf("re-encode changed the header: %+v vs %+v (%v)", again, h, err)
		}
		if strings.ContainsRune(Printable(h.Filename), '\n') {
			t.Fatal("Printable kept a newline")
		}
	})
}
