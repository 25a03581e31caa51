package textsearch

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTerms(t *testing.T) {
	assert.Equal(t, []string{"hello", "wörld", "foo", "bar", "3", "14"}, Terms("  Hello, WÖRLD! foo-bar hello 3.14"))
	assert.Empty(t, Terms(" ,.;-- "))
	assert.Empty(t, Terms(""))
}

func TestMatches(t *testing.T) {
	assert.True(t, Matches("Hello, World", []string{"wor", "hel"}))
	assert.True(t, Matches("École ouverte", []string{"éco"}))
	assert.False(t, Matches("Hello, World", []string{"orld"}), "a term matches the start of a word only")
	assert.False(t, Matches("Hello, World", []string{"hello", "moon"}), "every term must match")
	assert.False(t, Matches("", []string{"a"}))
}

func TestHighlights(t *testing.T) {
	text := "Hello hell, say HELLO to help"
	assert.Equal(t, []Word{{0, 5}, {6, 9}, {16, 21}, {25, 28}}, Highlights(text, []string{"hel", "hello"}))
	assert.Empty(t, Highlights(text, []string{"xyz"}))
}
