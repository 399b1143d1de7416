module github.com/fileconv/fileconv

go 1.26.0

require (
	codeberg.org/go-pdf/fpdf v0.12.0 // indirect
	github.com/davidbyttow/govips/v2 v2.16.0 // indirect
	github.com/go-fonts/dejavu v0.3.2 // indirect
	golang.org/x/image v0.47.0 // indirect
)
