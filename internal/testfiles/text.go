package testfiles

import (
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Words of the languages Paragraphs mixes: accented Latin (French, German,
// Polish, Czech, Spanish), Greek and Cyrillic (Russian, Ukrainian), all of which
// DejaVu Sans draws.
var words = strings.Fields(`
	été déjà façade naïve cœur garçon français forêt hôpital île crème brûlée
	größe straße über müde schön fußball äpfel öl jürgen
	zażółć gęślą jaźń łódź kraków wrocław gdańsk źródło pięść
	příliš žluťoučký kůň úpěl ďábelské ódy čeština
	mañana niño corazón canción años pingüino acción
	the quick brown fox jumps over lazy dog while river mountain window garden
	καλημέρα θάλασσα ουρανός ήλιος φως βιβλίο γράμμα αλεπού σκύλος ψυχή ζωή
	αλφάβητο ελληνικά
	привет мир солнце книга письмо школа дружба жизнь город ёлка щука объём
	сьогодні їжак ґанок подвір'я україна
`)

// Paragraphs returns about targetBytes (never more) of deterministic
// multilingual text in paragraphs of 2 to 6 sentences. Inside a paragraph the
// text is broken into lines of at most 72 characters, and paragraphs are
// separated by a blank line, the layout TXT → PDF joins and re-wraps.
func Paragraphs(targetBytes int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.Grow(targetBytes + 1024)
	for b.Len() < targetBytes {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		col := 0
		for s, n := 0, 2+rng.IntN(5); s < n; s++ {
			for i, m := 0, 4+rng.IntN(12); i < m; i++ {
				w := words[rng.IntN(len(words))]
				if i == 0 {
					w = capitalise(w)
				}
				if i == m-1 {
					w += "."
				}
				wl := utf8.RuneCountInString(w)
				switch {
				case col == 0:
				case col+1+wl > 72:
					b.WriteString("\n")
					col = 0
				default:
					b.WriteString(" ")
					col++
				}
				b.WriteString(w)
				col += wl
			}
		}
		b.WriteString("\n")
	}
	s := b.String()
	if len(s) > targetBytes {
		s = s[:targetBytes]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func capitalise(w string) string {
	r, n := utf8.DecodeRuneInString(w)
	return string(unicode.ToUpper(r)) + w[n:]
}
