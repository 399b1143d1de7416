# fileconv: two commands set up a fresh Debian machine and use it.
#   make up     build and run master, workers (and, later, the web page) locally
#   make test   run every test
# Both install the Debian packages they need when they are missing.

GO        ?= go
BIN       := bin/fileconv
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/fileconv/fileconv/internal/cli.Version=$(VERSION)
# cgo: libvips for images, poppler-glib for PDF text, qpdf for PDF merge, split,
# repair and decrypt (internal/qpdf), LibreOfficeKit's headers for office
# documents (internal/office dlopens LibreOffice at run time: the binary does
# not link it), Tesseract for OCR (internal/ocr; its English model, which the
# worker's self-test reads, comes with it), uchardet to recognise the encoding
# of a text that is not UTF-8 (internal/textenc: Shift_JIS, GB18030, Big5,
# EUC-KR, Windows-125x, KOI8-R...; Mozilla's detector, kept by freedesktop.org),
# Pango and Cairo to typeset text in every script as PDF (internal/textpdf:
# font fallback, shaping, bidi, line breaking; Cairo's PDF surface).
# g++: internal/qpdf lays text layers over pages through qpdf's C++ API (its C
# API has no form XObjects).
DEB_BUILD := libvips-dev libpoppler-glib-dev libqpdf-dev libreofficekit-dev libtesseract-dev \
	tesseract-ocr-eng libuchardet-dev libpango1.0-dev libcairo2-dev pkg-config gcc g++
# The office engine, at run time (make up, the tests): LibreOffice without its
# GUI (Writer, Calc, Impress) and fonts metric-compatible with Calibri, Cambria,
# Arial, Times New Roman, plus Noto for every script (CJK included).
DEB_OFFICE := libreoffice-core-nogui libreoffice-writer-nogui libreoffice-calc-nogui \
	libreoffice-impress-nogui fonts-crosextra-carlito fonts-crosextra-caladea \
	fonts-liberation2 fonts-noto-core fonts-noto-cjk
LO_PROGRAM := /usr/lib/libreoffice/program
# Test-only tools: python3 runs the original-protocol client in the end-to-end tests;
# iproute2 (ip netns, veth) builds the multi-host cluster test's network;
# chromium runs the web page's browser tests (internal/web, through chromedp);
# qpdf (the command: encrypts test files, checks outputs) and poppler-utils
# (pdftotext reads outputs back) check internal/qpdf.
DEB_TEST  := python3 iproute2 chromium qpdf poppler-utils
# Engines the worker runs (make up and make test): Chromium prints HTML and
# Markdown to PDF (internal/htmlpdf), with fonts for every script (Noto: Latin,
# Greek, Cyrillic, Arabic, Hebrew, Indic, Thai...; Noto CJK; colour emoji; DejaVu),
# which TXT → PDF uses too (internal/textpdf), with Symbola for emoji as
# outlines, which keep their text in the PDF where colour bitmaps do not.
DEB_RUN   := chromium fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji fonts-dejavu-core fonts-symbola
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TEST_FLAGS ?= -race -timeout 20m

.PHONY: all build up test vet fmt deps run-deps office-deps test-deps fuzz bench clean perf-report soak vips-compare pdf-compare office-compare ocr-compare original-compare overhead-report

all: build

# deps installs the build's Debian packages only when pkg-config cannot find them,
# so a machine that has them never needs root or the network here.
deps:
	@if ! pkg-config --exists vips poppler-glib libqpdf tesseract uchardet pangocairo cairo-pdf 2>/dev/null || ! command -v gcc >/dev/null || ! command -v g++ >/dev/null \
		|| [ ! -f /usr/include/LibreOfficeKit/LibreOfficeKitInit.h ] \
		|| [ ! -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ]; then \
		echo "installing Debian packages: $(DEB_BUILD)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_BUILD); \
	fi

# run-deps installs the engines only when Chromium or a font family is missing.
run-deps:
	@if ! command -v chromium >/dev/null || ! command -v fc-list >/dev/null \
		|| ! fc-list -q "Noto Sans" || ! fc-list -q "Noto Sans CJK SC" \
		|| ! fc-list -q "Noto Color Emoji" || ! fc-list -q "DejaVu Sans" || ! fc-list -q "Symbola"; then \
		echo "installing Debian packages: $(DEB_RUN)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_RUN); \
	fi

# office-deps installs LibreOffice and the fonts when a module or the CJK
# fonts are missing.
office-deps:
	@if [ ! -f $(LO_PROGRAM)/libswlo.so ] || [ ! -f $(LO_PROGRAM)/libsclo.so ] || [ ! -f $(LO_PROGRAM)/libsdlo.so ] \
		|| [ ! -d /usr/share/fonts/opentype/noto ] || [ ! -d /usr/share/fonts/truetype/crosextra ]; then \
		echo "installing Debian packages: $(DEB_OFFICE)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_OFFICE); \
	fi

test-deps: deps run-deps office-deps
	@if ! command -v python3 >/dev/null || ! command -v ip >/dev/null || ! command -v chromium >/dev/null \
		|| ! command -v qpdf >/dev/null || ! command -v pdftotext >/dev/null; then \
		echo "installing Debian packages: $(DEB_TEST)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_TEST); \
	fi

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/fileconv

up: build run-deps office-deps
	./$(BIN) up

test: test-deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) test $(TEST_FLAGS) ./...

# fuzz runs every fuzz target for FUZZTIME each (the corpus also runs in make test).
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin

# perf-report measures what docs/performance.md reports (a few minutes on 2 cores):
# bench sweeps through `fileconv up` on loopback, master memory while relaying
# 32 × 50 MB, CPU profiles of the conversions. Graphs go to docs/graphs/.
perf-report: build
	BIN=$(BIN) GO=$(GO) sh internal/bench/perf-report.sh 2>&1 | tee perf-report.log

# image builds the two images of deploy/Dockerfile, $(IMAGE)-small (images,
# PDF) and $(IMAGE)-full (and LibreOffice, Chromium, Tesseract), tagged
# $(IMAGE_TAG) (the manifests name them ghcr.io/fileconv/fileconv-small and
# -full), and runs the
# binary of each once, when a container engine answers (DOCKER=podman works
# too); otherwise it says so and succeeds. Where no registry gives $(BASE), it
# makes a Debian base image from Debian's packages (deploy/base-image.sh,
# debootstrap) and says so. image-deps installs podman and debootstrap.
DOCKER     ?= docker
IMAGE      ?= fileconv
IMAGE_TAG  ?= latest
BASE       ?= debian:bookworm-slim
LOCAL_BASE ?= localhost/fileconv-base:bookworm
GO_VERSION ?= $(shell $(GO) env GOVERSION | sed 's/^go//')
# Containers here start with lowered limits only.
LIMITS     := --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
# podman: runc, which runs where crun refuses hybrid cgroups; the machine's CA
# certificates for the build's downloads (mounted, never kept), for networks
# whose HTTPS passes an inspecting proxy. docker build takes neither.
ifeq ($(notdir $(DOCKER)),podman)
ENGINE      := $(DOCKER) --runtime runc
BUILD_FLAGS := --ignorefile deploy/Dockerfile.dockerignore \
	--volume /etc/ssl/certs/ca-certificates.crt:/run/fileconv-build-ca.crt:ro --build-arg CA_BUNDLE=/run/fileconv-build-ca.crt
else
ENGINE      := $(DOCKER)
BUILD_FLAGS :=
endif
.PHONY: image image-deps
image:
	@if ! $(DOCKER) info >/dev/null 2>&1; then \
		echo "image: skipped: no container engine ('$(DOCKER) info' failed); the Dockerfile is checked by go test ./deploy/..."; exit 0; \
	fi; \
	base=$(BASE); \
	if ! $(DOCKER) image inspect $$base >/dev/null 2>&1 && ! $(DOCKER) pull -q $$base >/dev/null 2>&1; then \
		base=$(LOCAL_BASE); \
		echo "image: no registry gives $(BASE): building on $$base, made from Debian's packages"; \
		$(DOCKER) image inspect $$base >/dev/null 2>&1 || bash deploy/base-image.sh $(DOCKER) $$base || exit 1; \
	fi; \
	for variant in small full; do \
		$(ENGINE) build -f deploy/Dockerfile $(LIMITS) $(BUILD_FLAGS) --build-arg BASE=$$base \
			--build-arg GO_VERSION=$(GO_VERSION) --build-arg VERSION=$(VERSION) --target $$variant -t $(IMAGE)-$$variant:$(IMAGE_TAG) . || exit 1; \
		$(ENGINE) run --rm $(LIMITS) $(IMAGE)-$$variant:$(IMAGE_TAG) version || exit 1; \
	done; \
	$(DOCKER) image prune -f --filter label=org.opencontainers.image.title=fileconv >/dev/null; \
	$(DOCKER) images --filter reference='*$(IMAGE)-*'

image-deps:
	@if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then \
		echo "installing Debian packages: podman runc debootstrap"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends podman runc debootstrap; \
	fi

# vips-compare: fileconv end to end against the vips command, pair by pair
# (docs/performance.md, "Images: every format"); it needs the vips command
# (libvips-tools) and hyperfine.
DEB_BENCH := libvips-tools hyperfine
vips-compare: build
	@if ! command -v vips >/dev/null || ! command -v hyperfine >/dev/null; then \
		echo "installing Debian packages: $(DEB_BENCH)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_BENCH); \
	fi
	BIN=$(BIN) MODE=one bash internal/bench/vips-compare.sh 2>&1 | tee vips-compare-one.csv
	BIN=$(BIN) MODE=two bash internal/bench/vips-compare.sh 2>&1 | tee vips-compare-two.csv

# pdf-compare: a PDF's pages as pictures, fileconv (end to end through up, and
# the Go benchmarks in the process) against poppler's pdftoppm: ms per page at
# 150 dpi and the first page as a thumbnail (docs/performance.md, "PDF pages to
# pictures"; about three minutes). It needs pdftoppm (poppler-utils), hyperfine
# and curl.
DEB_PDF_BENCH := poppler-utils hyperfine curl
pdf-compare: build
	@if ! command -v pdftoppm >/dev/null || ! command -v hyperfine >/dev/null || ! command -v curl >/dev/null; then \
		echo "installing Debian packages: $(DEB_PDF_BENCH)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_PDF_BENCH); \
	fi
	BIN=$(BIN) GO=$(GO) bash internal/bench/pdf-compare.sh 2>&1 | tee pdf-compare.md

# office-compare: DOCX -> PDF documents per second through up against a loop of
# soffice --headless --convert-to pdf on the same files (docs/performance.md,
# "Office documents"; about two minutes).
office-compare: build office-deps
	BIN=$(BIN) bash internal/bench/office-compare.sh 2>&1 | tee office-compare.md

# original-compare: the original system and fileconv up side by side, the
# table of docs/performance.md (fileconv bench --compare; about five minutes).
original-compare: build run-deps
	BIN=$(BIN) bash internal/bench/original-compare.sh 2>&1 | tee original-compare.txt

# overhead-report: every registry entry through up against in process, at as
# many clients as cores (fileconv bench --overhead; about ten minutes).
overhead-report: build run-deps office-deps
	BIN=$(BIN) bash internal/bench/overhead-report.sh 2>&1 | tee overhead-report.txt

# ocr-compare: text from scans at 300 dpi, fileconv end to end through up
# against the tesseract command on the same pages (its default OpenMP threads
# and OMP_THREAD_LIMIT=1): ms per page of a PNG and of a scanned PDF, and a
# 20-page scan's wall time and cores used (docs/performance.md, "OCR (issue
# 17)"; about eight minutes, most of them the tesseract command with its
# default OpenMP threads). It needs tesseract, pdftoppm and hyperfine.
DEB_OCR_BENCH := tesseract-ocr tesseract-ocr-eng poppler-utils hyperfine
ocr-compare: build
	@if ! command -v tesseract >/dev/null || ! command -v pdftoppm >/dev/null || ! command -v hyperfine >/dev/null; then \
		echo "installing Debian packages: $(DEB_OCR_BENCH)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEB_OCR_BENCH); \
	fi
	BIN=$(BIN) bash internal/bench/ocr-compare.sh 2>&1 | tee ocr-compare.md

# soak: 10 minutes of load at saturation against fileconv up, sampling goroutines
# and memory; not in CI. Needs curl or wget.
soak: build
	BIN=$(BIN) sh internal/bench/soak.sh 2>&1 | tee soak.log
