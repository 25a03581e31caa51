// Package textsearch splits text into the words that message search
// matches, the same way for the Service (query terms and highlights) and
// for the in-memory Store (matching).
//
// A word is a maximal run of Unicode letters, marks and digits; everything
// else separates words. A term matches a word when the word begins with
// it, compared rune by rune after unicode.ToLower.
package textsearch

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isWordRune reports whether r belongs to a word.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// Word is a word of a text: its byte offsets in the text.
type Word struct {
	Start, End int
}

// Words returns the words of text in order.
func Words(text string) []Word {
	var words []Word
	start := -1
	for i, r := range text {
		switch {
		case isWordRune(r) && start < 0:
			start = i
		case !isWordRune(r) && start >= 0:
			words = append(words, Word{start, i})
			start = -1
		}
	}
	if start >= 0 {
		words = append(words, Word{start, len(text)})
	}
	return words
}

// Terms returns the words of a query, lower-cased, each once, in the order
// they first appear.
func Terms(query string) []string {
	var terms []string
	for _, w := range Words(query) {
		t := strings.Map(unicode.ToLower, query[w.Start:w.End])
		if !contains(terms, t) {
			terms = append(terms, t)
		}
	}
	return terms
}

func contains(terms []string, t string) bool {
	for _, have := range terms {
		if have == t {
			return true
		}
	}
	return false
}

// PrefixLen returns the length in bytes of the prefix of word that term
// matches, or -1 when word does not begin with term. term is lower case,
// as Terms returns it.
func PrefixLen(word, term string) int {
	i := 0
	for _, tr := range term {
		wr, size := utf8.DecodeRuneInString(word[i:])
		if size == 0 || unicode.ToLower(wr) != tr {
			return -1
		}
		i += size
	}
	return i
}

// Matches reports whether every term begins some word of text.
func Matches(text string, terms []string) bool {
	words := Words(text)
	for _, t := range terms {
		found := false
		for _, w := range words {
			if PrefixLen(text[w.Start:w.End], t) >= 0 {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Highlights returns the byte ranges of text that terms match: for each
// word that begins with a term, the prefix the longest such term covers.
func Highlights(text string, terms []string) []Word {
	var out []Word
	for _, w := range Words(text) {
		best := -1
		for _, t := range terms {
			best = max(best, PrefixLen(text[w.Start:w.End], t))
		}
		if best > 0 {
			out = append(out, Word{w.Start, w.Start + best})
		}
	}
	return out
}
